#!/usr/bin/env bash
# Undoes the migration's move: the original data goes back to $SOURCE once nothing is mounted there.
# The subvolume's data is not touched, and nothing is deleted.
#  - $SOURCE still mounted by the host's own configuration (an fstab entry of the owner's, e.g. the plan's
#    fileSystems."/var/lib/immich"): the data stays on the subvolume there, as the owner declares; the
#    original stays at $KEEP_AT.
#  - $SOURCE not empty (the owner's own Immich, still enabled, started on the empty folder once the mount was
#    gone): the units in $UNITS are stopped, that folder is kept aside next to it, the original returns, and
#    the units that were running start again on it.
# Inputs: SOURCE KEEP_AT STATE_DIR UNITS (space-separated)
set -euo pipefail
export LC_ALL=C

marker="$STATE_DIR/migration.done"
if [ ! -f "$marker" ]; then
  echo "no change: no migration recorded"
  exit 0
fi
if findmnt -rn --mountpoint "$SOURCE" >/dev/null 2>&1; then
  if findmnt -rn --fstab --mountpoint "$SOURCE" >/dev/null 2>&1; then
    echo "$SOURCE stays mounted: the host's own configuration mounts it (its fstab entry is not skylab-immich's); the data stays there, the original from before the move stays at $KEEP_AT"
    rm -f "$marker"
    exit 0
  fi
  echo "$SOURCE is still mounted: the mount must be removed (apply) before the original data can return" >&2
  exit 1
fi
if [ -d "$KEEP_AT" ]; then
  if [ -d "$SOURCE" ] && [ -z "$(ls -A "$SOURCE")" ]; then
    rmdir "$SOURCE"
  fi
  running=()
  if [ -e "$SOURCE" ]; then
    read -r -a units <<<"$UNITS"
    for unit in "${units[@]}"; do
      if systemctl is-active --quiet "$unit"; then
        running+=("$unit")
        echo "stopping $unit: it runs on $SOURCE"
        systemctl stop "$unit"
      fi
    done
    aside="$SOURCE.skylab-immich-found-$(date +%Y%m%d-%H%M%S)"
    mv -T "$SOURCE" "$aside"
    echo "$SOURCE held files written after the mount was removed (e.g. by the host's own Immich): kept at $aside"
  fi
  mv -T "$KEEP_AT" "$SOURCE"
  echo "restored the original data to $SOURCE"
  for unit in "${running[@]}"; do
    systemctl start "$unit"
    echo "started $unit again"
  done
fi
rm -f "$marker"
