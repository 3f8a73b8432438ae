#!/usr/bin/env bash
# The read-only look at the host that previews and drift checks rest on, as one JSON document.
# Changes nothing on the host (a BTRFS top level is mounted read-only for a moment to read properties).
# Inputs: MEDIAS_LABEL SUBVOLUMES REPO FILES IMPORT_PATH MIGRATION_SOURCE FOLDERS UNITS (arrays) STATE_DIR SOPS_FILE SOPS_KEYS
#         AGE_KEY_FILE OWNED_PATHS (lists newline-separated); MOUNT_POINTS MOUNT_OPTIONS (arrays of the
#         same length: each declared mount and its options, comma-separated); TOOLS (array: the tools
#         the program's scripts run on the host); OWNER_NIX OWNER_REQUEST (the owner's definitions: the Nix
#         expression and its JSON request; empty: not asked)
set -euo pipefail
export LC_ALL=C

tool_version() {
  local out
  if command -v "$1" >/dev/null 2>&1; then out=$("$@" 2>&1 || true); printf '%s' "${out%%$'\n'*}"; fi
}

# The owner's own definitions of the options the program defines, as NixOS itself reports them
# (OWNER_NIX, lib/remote/owner-definitions.nix) with the host's nixpkgs: NIX_PATH's, else the root channel
# `nixos` (where NixOS keeps it). Or why they were not read.
owner_definitions() {
  local nixpkgs out err copy
  if [ -z "$OWNER_REQUEST" ]; then printf '{"skipped":"nothing asked"}'; return; fi
  if [ -f "$REPO/flake.nix" ]; then
    printf '{"skipped":%s}' "$(json_string "$REPO is a flake: its definitions are not read yet (only nixos-rebuild dry-activate checks them)")"
    return
  fi
  nixpkgs=$(nix-instantiate --find-file nixpkgs 2>/dev/null || true)
  if [ -z "$nixpkgs" ] && [ -d /nix/var/nix/profiles/per-user/root/channels/nixos ]; then
    nixpkgs=/nix/var/nix/profiles/per-user/root/channels/nixos
  fi
  if [ -z "$nixpkgs" ] || [ ! -e "$nixpkgs/nixos/default.nix" ]; then
    printf '{"skipped":%s}' "$(json_string "no nixpkgs found: NIX_PATH has no nixpkgs= and there is no root channel nixos")"
    return
  fi
  # The owner's configuration alone: a copy of the repo (its history left out) whose generated folder is an
  # empty module, so it evaluates before the first up too and holds none of the program's definitions.
  copy=$(mktemp -d /run/skylab-immich-owner.XXXXXX)
  err=$copy.err
  tar -C "$REPO" --exclude=./.git -cf - . | tar -C "$copy" -xf -
  rm -rf "${copy:?}/$IMPORT_PATH"
  mkdir -p "$copy/$IMPORT_PATH"
  printf '{ }\n' >"$copy/$IMPORT_PATH/default.nix"
  if out=$(nix-instantiate --eval --strict --json --readonly-mode -E "$OWNER_NIX" --arg nixpkgs "$nixpkgs" \
    --arg configuration "$copy/configuration.nix" --argstr request "$OWNER_REQUEST" --argstr repo "$copy" 2>"$err"); then
    printf '{"nixpkgs":%s,"evaluatedCopy":%s,"options":%s}' "$(json_string "$nixpkgs")" "$(json_string "$copy")" "$out"
  else
    out=$(grep -v "build-users-group' does not exist" "$err" | tr -d '\000-\010\013\014\016-\037' || true)
    printf '{"nixpkgs":%s,"error":%s}' "$(json_string "$nixpkgs")" "$(json_string "${out//"$copy"/"$REPO"}")"
  fi
  rm -rf "$copy" "$err"
}

printf '{"medias":{'
device=$(medias_device "$MEDIAS_LABEL")
[ -b "${device:-/nonexistent}" ] || device=""
printf '"label":%s,"device":%s' "$(json_string "$MEDIAS_LABEL")" "$(json_or_null "$device")"
if [ -n "$device" ]; then
  printf ',"fstype":%s' "$(json_or_null "$(blkid -o value -s TYPE "$device" 2>/dev/null || true)")"
  look=$(mktemp -d /run/skylab-immich-look.XXXXXX)
  if mount -t btrfs -o ro,subvolid=5 "$device" "$look" 2>/dev/null; then
    printf ',"freeBytes":%s,"subvolumes":{' "$(df -B1 --output=avail "$look" | tail -n1 | tr -d ' ')"
    first=1
    while IFS= read -r subvolume; do
      [ -n "$subvolume" ] || continue
      [ $first -eq 1 ] || printf ','
      first=0
      if btrfs subvolume show "$look/$subvolume" >/dev/null 2>&1; then
        compression=$(btrfs property get "$look/$subvolume" compression 2>/dev/null | sed -n 's/^compression=//p')
        printf '%s:{"compression":%s}' "$(json_string "$subvolume")" "$(json_or_null "$compression")"
      else
        printf '%s:null' "$(json_string "$subvolume")"
      fi
    done <<<"$SUBVOLUMES"
    printf '}'
    umount "$look"
  fi
  rmdir "$look"
fi
printf '},"mounts":{'
# Each declared mount with what is mounted there and the verdict of the one mount rule (lib.sh).
for i in "${!MOUNT_POINTS[@]}"; do
  mount_point=${MOUNT_POINTS[$i]}
  [ "$i" -eq 0 ] || printf ','
  line=$(findmnt -rn -o SOURCE,FSTYPE,OPTIONS,FSROOT --mountpoint "$mount_point" 2>/dev/null | tail -n1 || true)
  verdict=$(check_mount "$mount_point" "${MOUNT_OPTIONS[$i]}")
  if [ -n "$line" ]; then
    # findmnt -r escapes spaces as \x20, so fields split on spaces.
    read -r source fstype options fsroot <<<"$line"
    printf '%s:{"source":%s,"fstype":%s,"options":%s,"fsroot":%s,' "$(json_string "$mount_point")" \
      "$(json_string "$source")" "$(json_string "$fstype")" "$(json_string "$options")" "$(json_string "$fsroot")"
  else
    printf '%s:{"source":null,' "$(json_string "$mount_point")"
  fi
  printf '"matches":%s,"verdict":%s}' "$([ "${verdict%%|*}" = pass ] && echo true || echo false)" "$(json_string "${verdict#*|}")"
done
printf '},"repo":{'
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  printf '"isGit":true,"head":%s' "$(json_or_null "$(git -C "$REPO" rev-parse HEAD 2>/dev/null || true)")"
  imported=false
  if grep -rlF --include='*.nix' --exclude-dir="$(basename "$IMPORT_PATH")" -- "$IMPORT_PATH" "$REPO" >/dev/null 2>&1; then imported=true; fi
  printf ',"importsGenerated":%s' "$imported"
  # Uncommitted changes outside what the program owns: an apply commits and a rollback resets, so they
  # must not be there (the apply refuses them too; the look refuses them before anything is written).
  excludes=()
  while IFS= read -r owned; do [ -n "$owned" ] && excludes+=(":(exclude)$owned"); done <<<"$OWNED_PATHS"
  printf ',"foreignChanges":%s' "$(git -C "$REPO" --no-optional-locks status --porcelain -- . "${excludes[@]}" 2>/dev/null | json_lines || true)"
else
  printf '"isGit":false'
fi
printf ',"files":{'
first=1
while IFS= read -r file; do
  [ -n "$file" ] || continue
  [ $first -eq 1 ] || printf ','
  first=0
  printf '%s:%s' "$(json_string "$file")" "$(file_sha256_json "$REPO/$file")"
done <<<"$FILES"
# The text of each owned file that is small (generated modules are): a preview shows the lines `up` puts back.
printf '},"fileTexts":{'
first=1
while IFS= read -r file; do
  [ -n "$file" ] || continue
  text=$(owned_file_text_json "$REPO/$file") || continue
  [ $first -eq 1 ] || printf ','
  first=0
  printf '%s:%s' "$(json_string "$file")" "$text"
done <<<"$FILES"
printf '},"sopsKeys":{'
first=1
while IFS= read -r key_path; do
  [ -n "$key_path" ] || continue
  [ $first -eq 1 ] || printf ','
  first=0
  index=$(sops_index "$key_path")
  # Decrypted into /dev/null: only whether the key is there is reported.
  if [ -f "$REPO/$SOPS_FILE" ] && command -v sops >/dev/null 2>&1 \
    && SOPS_DISABLE_VERSION_CHECK=true SOPS_AGE_KEY_FILE=$AGE_KEY_FILE sops decrypt --extract "$index" "$REPO/$SOPS_FILE" >/dev/null 2>&1; then
    present=true
  else
    present=false
  fi
  printf '%s:%s' "$(json_string "$key_path")" "$present"
done <<<"$SOPS_KEYS"
printf '}},"system":{"current":%s,"profile":%s}' \
  "$(json_or_null "$(readlink -f /run/current-system 2>/dev/null || true)")" \
  "$(json_or_null "$(readlink -f /nix/var/nix/profiles/system 2>/dev/null || true)")"
bytes=""
if [ -d "$MIGRATION_SOURCE" ] && ! findmnt -rn --mountpoint "$MIGRATION_SOURCE" >/dev/null 2>&1; then
  bytes=$(du -sb "$MIGRATION_SOURCE" 2>/dev/null | cut -f1 || true)
fi
printf ',"migration":{"done":%s,"sourceBytes":%s}' \
  "$([ -f "$STATE_DIR/migration.done" ] && echo true || echo false)" "${bytes:-null}"
# The units the configuration runs (UNITS, an array): their state, where systemd runs.
printf ',"units":{'
if [ -d /run/systemd/system ]; then
  for i in "${!UNITS[@]}"; do
    [ "$i" -eq 0 ] || printf ','
    printf '%s:%s' "$(json_string "${UNITS[$i]}")" "$(json_string "$(systemctl is-active "${UNITS[$i]}" 2>/dev/null || true)")"
  done
fi
printf '}'
# The folders the program shows or mounts from (FOLDERS, an array: the Pictures folder): each there as a folder?
printf ',"folders":{'
for i in "${!FOLDERS[@]}"; do
  [ "$i" -eq 0 ] || printf ','
  printf '%s:%s' "$(json_string "${FOLDERS[$i]}")" "$([ -d "${FOLDERS[$i]}" ] && echo true || echo false)"
done
printf '}'
printf ',"tools":{'
first=1
for tool in "${TOOLS[@]}"; do
  [ $first -eq 1 ] || printf ','
  first=0
  case $tool in
    nixos-rebuild) version=$(command -v nixos-rebuild || true) ;;
    sops) version=$(SOPS_DISABLE_VERSION_CHECK=true tool_version sops --version) ;;
    *) version=$(tool_version "$tool" --version) ;;
  esac
  printf '%s:%s' "$(json_string "$tool")" "$(json_or_null "$version")"
done
printf '},"owner":%s}\n' "$(owner_definitions)"
