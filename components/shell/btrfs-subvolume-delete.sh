#!/usr/bin/env bash
# Deletes subvolume $SUBVOLUME and the program's snapshots of it in $SNAPSHOTS_FOLDER only when the stack
# allows data loss; otherwise keeps them and says so.
# Inputs: MEDIAS_LABEL SUBVOLUME ALLOW_DATA_LOSS SNAPSHOTS_FOLDER (empty: no snapshots)
set -euo pipefail
export LC_ALL=C

if [ "$ALLOW_DATA_LOSS" != "true" ]; then
  echo "kept: subvolume $SUBVOLUME on $MEDIAS_LABEL and its data stay${SNAPSHOTS_FOLDER:+, with its snapshots in $SNAPSHOTS_FOLDER} (set \`storage.allowDataLoss\` to delete them)"
  exit 0
fi
device=$(medias_device "$MEDIAS_LABEL")
if [ -z "$device" ] || [ ! -b "$device" ]; then
  echo "no change: no filesystem labelled $MEDIAS_LABEL, nothing to delete"
  exit 0
fi
top=$(mount_top_level "$device")
trap 'unmount_top_level "$top"' EXIT
if [ -n "$SNAPSHOTS_FOLDER" ]; then
  # Only the program's own snapshots (name pattern, read-only subvolumes); anything else in the folder stays.
  while IFS= read -r snapshot; do
    btrfs subvolume delete "$top/$SNAPSHOTS_FOLDER/$snapshot" >/dev/null
    echo "deleted snapshot $SNAPSHOTS_FOLDER/$snapshot (\`storage.allowDataLoss\` is set)"
  done < <(list_snapshots "$top/$SNAPSHOTS_FOLDER")
  rmdir "$top/$SNAPSHOTS_FOLDER" 2>/dev/null || true
fi
if ! btrfs subvolume show "$top/$SUBVOLUME" >/dev/null 2>&1; then
  echo "no change: subvolume $SUBVOLUME does not exist"
  exit 0
fi
if findmnt -rn -o FSROOT -S "$device" | grep -qxF "/$SUBVOLUME"; then
  echo "subvolume $SUBVOLUME is still mounted: unmount it (remove its fileSystems entry) first" >&2
  exit 1
fi
btrfs subvolume delete "$top/$SUBVOLUME"
