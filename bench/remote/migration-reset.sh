#!/usr/bin/env bash
# Puts the scenario-4 sandbox back to "nothing migrated": the dataset at $SOURCE (moved back from
# $KEEP_AT if a migration moved it), no marker, and empty target subvolumes with the compression
# property, so every timed copy starts from the same state. Untimed.
# Inputs: SOURCE KEEP_AT STATE_DIR TOP SUBVOLUMES (space-separated) COMPRESSION
set -euo pipefail
export LC_ALL=C

if [ -d "$KEEP_AT" ]; then
  rm -rf "$SOURCE"
  mv -T "$KEEP_AT" "$SOURCE"
fi
rm -f "$STATE_DIR/migration.done"
for subvolume in $SUBVOLUMES; do
  if btrfs subvolume show "$TOP/$subvolume" >/dev/null 2>&1; then
    btrfs subvolume delete --commit-after "$TOP/$subvolume" >/dev/null
  fi
  btrfs subvolume create "$TOP/$subvolume" >/dev/null
  btrfs property set "$TOP/$subvolume" compression "$COMPRESSION"
done
sync -f "$TOP"
sync -f "$SOURCE"
