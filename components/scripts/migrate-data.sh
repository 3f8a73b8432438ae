#!/usr/bin/env bash
# Moves the data at $SOURCE onto subvolume $SUBVOLUME without loss, resumably:
#   copy (rsync: owners, modes, times, hard links, symlinks, ACLs, xattrs) -> verify every file
#   byte for byte (checksums) -> keep the original aside at $KEEP_AT -> leave an empty $SOURCE
#   for the mount. Killed at any point, a rerun continues where it stopped; nothing is deleted.
# Inputs: MEDIAS_LABEL SUBVOLUME SOURCE KEEP_AT STATE_DIR UNITS (space-separated systemd units)
set -euo pipefail
export LC_ALL=C

marker="$STATE_DIR/migration.done"
device=$(medias_device "$MEDIAS_LABEL")
if [ -z "$device" ] || [ ! -b "$device" ]; then
  echo "no filesystem labelled $MEDIAS_LABEL: check \`storage.mediasLabel\`" >&2
  exit 1
fi

if [ "$(findmnt -rn -o FSROOT --mountpoint "$SOURCE" 2>/dev/null | tail -n1)" = "/$SUBVOLUME" ]; then
  echo "no change: $SOURCE is already subvolume $SUBVOLUME"
  exit 0
fi
if [ -f "$marker" ]; then
  echo "no change: migrated earlier ($(cat "$marker"))"
  exit 0
fi

# Where the data to copy is: still at $SOURCE, or already moved aside by an interrupted run.
if [ -d "$SOURCE" ] && [ -n "$(ls -A "$SOURCE")" ]; then
  from=$SOURCE
elif [ -d "$KEEP_AT" ]; then
  from=$KEEP_AT
else
  mkdir -p "$STATE_DIR" "$SOURCE"
  echo "nothing to migrate: $SOURCE is empty or absent at $(date -u +%FT%TZ)" >"$marker"
  echo "nothing to migrate: $SOURCE is empty or absent"
  exit 0
fi

# Immich must not write while its data moves. Units are left stopped: the apply step starts them on the
# new mount.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for unit in $UNITS; do
    if systemctl is-active --quiet "$unit"; then
      echo "stopping $unit for the migration"
      systemctl stop "$unit"
    fi
  done
fi

top=$(mktemp -d /run/skylab-immich-top.XXXXXX)
cleanup() { umount "$top" 2>/dev/null || true; rmdir "$top" 2>/dev/null || true; }
trap cleanup EXIT
mount -t btrfs -o subvolid=5 "$device" "$top"
target="$top/$SUBVOLUME"
if ! btrfs subvolume show "$target" >/dev/null 2>&1; then
  echo "subvolume $SUBVOLUME does not exist on $MEDIAS_LABEL" >&2
  exit 1
fi

files=$(find "$from" -mindepth 1 | wc -l)
bytes=$(du -sb "$from" | cut -f1)
free=$(df -B1 --output=avail "$top" | tail -n1 | tr -d ' ')
if [ "$bytes" -gt "$free" ]; then
  echo "not enough space on $MEDIAS_LABEL: $bytes bytes to copy, $free free" >&2
  exit 1
fi
echo "copying $files entries ($bytes bytes) from $from to $SUBVOLUME"
# btrfs.compression is the xattr of the subvolume's compression property, inherited by every new file
# and folder there: not part of the data, so neither copied nor compared.
rsync_options=(-aHAX --numeric-ids --delete --sparse --filter='-x btrfs.compression')
# One streaming filter turns rsync's \r-updated progress line into `progress:` lines (a shell loop per
# line costs more than the copy).
rsync "${rsync_options[@]}" --info=progress2 --no-inc-recursive "$from/" "$target/" \
  | tr '\r' '\n' | tr -s ' ' | sed -un 's/^ *\(.*[^ ].*\)$/progress: copying: \1/p' >&2
echo "progress: verifying checksums of every file" >&2
differences=$(rsync "${rsync_options[@]}" --checksum --dry-run --itemize-changes "$from/" "$target/")
if [ -n "$differences" ]; then
  echo "verification failed: the copy differs from $from:" >&2
  echo "$differences" | head -20 >&2
  exit 1
fi
echo "verified: every file of $from is on $SUBVOLUME, byte-identical"

mkdir -p "$STATE_DIR"
if [ "$from" = "$SOURCE" ]; then
  mv -T "$SOURCE" "$KEEP_AT"
fi
mkdir -p "$SOURCE"
echo "from $SOURCE to subvolume $SUBVOLUME at $(date -u +%FT%TZ); original kept at $KEEP_AT" >"$marker"
echo "original kept at $KEEP_AT (not deleted: remove it yourself once Immich works from the subvolume)"
