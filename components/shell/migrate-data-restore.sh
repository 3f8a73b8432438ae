#!/usr/bin/env bash
# Undoes the migration's move: the original data goes back to $SOURCE once nothing is mounted there.
# The subvolume's data is not touched.
# Inputs: SOURCE KEEP_AT STATE_DIR
set -euo pipefail
export LC_ALL=C

marker="$STATE_DIR/migration.done"
if [ ! -f "$marker" ]; then
  echo "no change: no migration recorded"
  exit 0
fi
if findmnt -rn --mountpoint "$SOURCE" >/dev/null 2>&1; then
  echo "$SOURCE is still mounted: the mount must be removed (apply) before the original data can return" >&2
  exit 1
fi
if [ -d "$KEEP_AT" ]; then
  if [ -d "$SOURCE" ] && [ -z "$(ls -A "$SOURCE")" ]; then
    rmdir "$SOURCE"
  fi
  if [ -e "$SOURCE" ]; then
    echo "cannot restore: $SOURCE is not empty; the original is still at $KEEP_AT" >&2
    exit 1
  fi
  mv -T "$KEEP_AT" "$SOURCE"
  echo "restored the original data to $SOURCE"
fi
rm -f "$marker"
