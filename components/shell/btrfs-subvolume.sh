#!/usr/bin/env bash
# Ensures subvolume $SUBVOLUME exists at the top level of the BTRFS filesystem labelled $MEDIAS_LABEL and
# that new files in it are compressed with $COMPRESSION (the `compression` property: a mount option alone
# is not enough, BTRFS takes `compress` from whichever mount of the filesystem came first).
# Inputs: MEDIAS_LABEL SUBVOLUME COMPRESSION
set -euo pipefail
export LC_ALL=C

device=$(medias_device "$MEDIAS_LABEL")
if [ -z "$device" ] || [ ! -b "$device" ]; then
  echo "no filesystem labelled $MEDIAS_LABEL: check \`storage.mediasLabel\` against \`btrfs filesystem show\`" >&2
  exit 1
fi
fstype=$(blkid -o value -s TYPE "$device" || true)
if [ "$fstype" != "btrfs" ]; then
  echo "$device (label $MEDIAS_LABEL) is $fstype, not btrfs" >&2
  exit 1
fi

top=$(mount_top_level "$device")
trap 'unmount_top_level "$top"' EXIT

path="$top/$SUBVOLUME"
if btrfs subvolume show "$path" >/dev/null 2>&1; then
  echo "no change: subvolume $SUBVOLUME exists on $MEDIAS_LABEL"
elif [ -e "$path" ]; then
  echo "$SUBVOLUME exists at the top of $MEDIAS_LABEL but is not a subvolume: move it away first" >&2
  exit 1
else
  btrfs subvolume create "$path"
fi

algorithm=${COMPRESSION%%:*}
current=$(btrfs property get "$path" compression 2>/dev/null | sed -n 's/^compression=//p')
if [ "$current" = "$algorithm" ]; then
  echo "no change: compression property is $algorithm"
else
  btrfs property set "$path" compression "$algorithm"
  echo "compression property set to $algorithm (was ${current:-none})"
fi
echo "uuid: $(btrfs subvolume show "$path" | sed -n 's/^[[:space:]]*UUID:[[:space:]]*//p')"
