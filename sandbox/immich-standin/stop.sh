#!/usr/bin/env bash
# Stops sandbox NAME's stand-in Immich API by its PID (checked to live in the sandbox's network namespace).
# Safe to run twice. `sandbox.sh down` ends it too: it ends every process in the namespace.
#
#   stop.sh NAME
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
name=${1:?usage: stop.sh NAME}
[[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || { echo "immich stand-in: bad sandbox name '$name'" >&2; exit 1; }
state=$repo_root/.sandbox/$name
pid_file=$state/immich-standin.pid
[[ -f $pid_file ]] || { echo "immich stand-in of $name is not running"; exit 0; }
pid=$(cat "$pid_file")
if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2> /dev/null \
  && [[ $(ip netns identify "$pid" 2> /dev/null) == "skylab-$name" ]]; then
  kill -TERM "$pid" 2> /dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2> /dev/null || true
  echo "immich stand-in of $name stopped (PID $pid)"
fi
rm -f "$pid_file"
