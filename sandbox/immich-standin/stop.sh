#!/usr/bin/env bash
# Stops the stand-in Immich API of sandbox NAME (the unit start.sh started); safe to run twice.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
name=${1:?usage: stop.sh NAME}
[[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || { echo "immich stand-in: bad sandbox name '$name'" >&2; exit 1; }
state=$repo_root/.sandbox/$name
unit_file=$state/immich-standin.unit
[[ -f $unit_file ]] || { echo "immich stand-in of $name is not running"; exit 0; }
unit=$(cat "$unit_file")
[[ $unit == immich-server.service || $unit == immich-standin.service ]] || { echo "immich stand-in: unexpected unit '$unit'" >&2; exit 1; }
if [[ -f $state/connection.json ]]; then
  bash "$repo_root/sandbox/sandbox.sh" exec --name "$name" -- systemctl stop "$unit" || true
  echo "immich stand-in of $name stopped ($unit)"
fi
rm -f "$unit_file"
