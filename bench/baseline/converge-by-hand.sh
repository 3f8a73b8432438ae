#!/usr/bin/env bash
# ============================================================================================
#  BASELINE FOR THE BENCHMARKS — NOT PRODUCT CODE. Nothing in the program uses this file.
# ============================================================================================
# The practical floor for scenario 3 of bench/run.ts: Immich's first converge on a fresh SKYLAB done
# by hand, in ONE SSH session, with the same steps and the same end state as the program's first
# `pulumi up` (bench/remote/converged-state.sh compares the two hosts): the subvolume and its
# compression property, the data copied with rsync and verified, the database password in sops, the
# generated module files written and committed, `nixos-rebuild switch`.
# It leaves out what makes the program safe to re-run and to trust: the host look and preflight, the
# check-before-act of every step, resumability, the dry-activate plan, the detached activation with
# verification, confirmation over a second connection and rollback.
# Values (quoted preamble): MEDIAS_LABEL SUBVOLUME COMPRESSION SOURCE KEEP_AT REPO GENERATED_DIR
#                           SOPS_FILE KEY_PATH AGE_KEY_FILE
# Standard input: a tar of the generated module folder ($GENERATED_DIR, paths relative to $REPO).
set -euo pipefail
export LC_ALL=C SOPS_DISABLE_VERSION_CHECK=true

# 1. The subvolume at the top of MEDIAS, new files compressed.
top=$(mktemp -d /run/by-hand-top.XXXXXX)
mount -t btrfs -o subvolid=5 "/dev/disk/by-label/$MEDIAS_LABEL" "$top"
trap 'umount "$top"; rmdir "$top"' EXIT
btrfs subvolume create "$top/$SUBVOLUME" >/dev/null
btrfs property set "$top/$SUBVOLUME" compression "$COMPRESSION"

# 2. The data: copy, verify by checksum, keep the original aside, leave an empty mount point.
rsync_options=(-aHAX --numeric-ids --sparse --filter='-x btrfs.compression')
rsync "${rsync_options[@]}" "$SOURCE/" "$top/$SUBVOLUME/"
if [ -n "$(rsync "${rsync_options[@]}" --checksum --dry-run --itemize-changes "$SOURCE/" "$top/$SUBVOLUME/")" ]; then
  echo "the copy differs from $SOURCE" >&2
  exit 1
fi
mv -T "$SOURCE" "$KEEP_AT"
mkdir "$SOURCE"

# 3. The database password, generated here, into the sops file.
index=""
IFS=/ read -r -a parts <<<"$KEY_PATH"
for part in "${parts[@]}"; do index+="[\"$part\"]"; done
printf '"%s"' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
  | SOPS_AGE_KEY_FILE=$AGE_KEY_FILE sops set --value-stdin "$REPO/$SOPS_FILE" "$index"

# 4. The module files, committed.
tar -x -C "$REPO"
git -C "$REPO" add -- "$GENERATED_DIR" "$SOPS_FILE"
git -C "$REPO" commit -q -m "Immich on $SUBVOLUME (by hand)"

# 5. Activate and make it the boot default; then remount the data with compression, which BTRFS takes
#    from the filesystem's first mount (README, "Compression after a reboot").
nixos-rebuild switch >/dev/null
mount -o remount,compress="$COMPRESSION",noatime "$SOURCE"
echo "converged by hand"
