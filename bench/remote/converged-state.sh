#!/usr/bin/env bash
# Read-only: the end state of a first converge, as lines that are the same on two hosts converged the
# same way (no commit hashes, timestamps or store paths). Scenario 3 compares the program's host with the
# by-hand baseline's host with it, so the baseline is known to do the same work.
# Inputs: REPO GENERATED_DIR SOURCE KEEP_AT SUBVOLUME SOPS_FILE KEY_PATH AGE_KEY_FILE
set -euo pipefail
export LC_ALL=C SOPS_DISABLE_VERSION_CHECK=true

echo "data mount: $(findmnt -rn -o FSROOT,FSTYPE --mountpoint "$SOURCE" | tail -n1)"
echo "data mount options: $(findmnt -rn -o OPTIONS --mountpoint "$SOURCE" | tail -n1 | tr ',' '\n' | grep -E '^(compress|noatime|subvol=)' | sort | paste -sd, -)"
echo "data owner: $(stat -c '%U:%G %a' "$SOURCE")"
echo "pictures mount: $(findmnt -rn -o OPTIONS --mountpoint /media/immich | tr ',' '\n' | grep -xE 'ro|rw' | paste -sd, -)"
echo "compression property: $(btrfs property get "$SOURCE" compression 2>/dev/null || echo none)"
echo "data files: $(find "$SOURCE" -mindepth 1 | wc -l), original kept: $(find "$KEEP_AT" -mindepth 1 | wc -l)"
echo "data checksum: $(cd "$SOURCE" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-16)"
echo "generated files:"
(cd "$REPO/$GENERATED_DIR" && sha256sum -- *.nix)
echo "committed: $(git -C "$REPO" status --porcelain -- "$GENERATED_DIR" "$SOPS_FILE" | wc -l) uncommitted paths"
index=""
IFS=/ read -r -a parts <<<"$KEY_PATH"
for part in "${parts[@]}"; do index+="[\"$part\"]"; done
echo "sops key present: $(SOPS_AGE_KEY_FILE=$AGE_KEY_FILE sops decrypt --extract "$index" "$REPO/$SOPS_FILE" >/dev/null 2>&1 && echo yes || echo no)"
echo "secret file: $(stat -c '%U:%G %a' "/run/secrets/$KEY_PATH" 2>/dev/null || echo missing)"
echo "generations: $(nixos-rebuild list-generations 2>/dev/null | grep -c . || true)"
echo "boot default is active: $([ "$(readlink -f /nix/var/nix/profiles/system)" = "$(readlink -f /run/current-system)" ] && echo yes || echo no)"
