#!/usr/bin/env bash
# Deletes subvolume $SUBVOLUME only when the stack allows data loss; otherwise keeps it and says so.
# Inputs: MEDIAS_LABEL SUBVOLUME ALLOW_DATA_LOSS
set -euo pipefail
export LC_ALL=C

if [ "$ALLOW_DATA_LOSS" != "true" ]; then
  echo "kept: subvolume $SUBVOLUME on $MEDIAS_LABEL and its data stay (set \`storage.allowDataLoss\` to delete them)"
  exit 0
fi
device=$(medias_device "$MEDIAS_LABEL")
if [ -z "$device" ] || [ ! -b "$device" ]; then
  echo "no change: no filesystem labelled $MEDIAS_LABEL, nothing to delete"
  exit 0
fi
top=$(mount_top_level "$device")
trap 'unmount_top_level "$top"' EXIT
if ! btrfs subvolume show "$top/$SUBVOLUME" >/dev/null 2>&1; then
  echo "no change: subvolume $SUBVOLUME does not exist"
  exit 0
fi
if findmnt -rn -o FSROOT -S "$device" | grep -qxF "/$SUBVOLUME"; then
  echo "subvolume $SUBVOLUME is still mounted: unmount it (remove its fileSystems entry) first" >&2
  exit 1
fi
btrfs subvolume delete "$top/$SUBVOLUME"
