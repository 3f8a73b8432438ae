#!/usr/bin/env bash
# Starts the stand-in Immich API inside sandbox NAME, as a systemd unit of the sandbox's own systemd: in its
# network namespace (127.0.0.1:2283 is the sandbox's loopback, where SKYLAB's Immich listens) and its
# filesystem view (it scans the sandbox's /media/immich).
#
#   start.sh NAME [--admin-email EMAIL] [--ms-per-file MS] [--configure-only] < api-key
#
# The API key comes on stdin and only its sha256 is kept (as Immich keeps keys), in the sandbox's
# /etc/immich-standin/config.json; it is never an argument. Where the configuration declares
# services.immich (after an `up`), immich-server.service runs the stand-in and is restarted to read the
# key; before that, a transient unit immich-standin.service runs it. --configure-only writes the key and
# starts nothing (the next `up` starts immich-server.service with it).
# Prints the stand-in's PID as this machine sees it.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
die() { printf 'immich stand-in: %s\n' "$*" >&2; exit 1; }

name=${1:-}
[[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "usage: start.sh NAME [--admin-email EMAIL] [--ms-per-file MS] [--configure-only] < api-key"
shift
admin_email=admin@skylab.local
ms_per_file=250
configure_only=false
while (($#)); do
  case $1 in
    --admin-email) admin_email=${2:?--admin-email needs a value}; shift 2 ;;
    --ms-per-file) ms_per_file=${2:?--ms-per-file needs a value}; shift 2 ;;
    --configure-only) configure_only=true; shift ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[[ $ms_per_file =~ ^[0-9]+$ ]] || die "--ms-per-file must be a number of milliseconds (got \"$ms_per_file\")"

state=$repo_root/.sandbox/$name
[[ -f $state/connection.json ]] || die "sandbox $name is not up: run 'npm run sandbox:up -- --name $name' first"
inside() { bash "$repo_root/sandbox/sandbox.sh" exec --name "$name" -- "$@"; }
[[ -f $state/fs/usr-local/lib/immich-standin/contract.json ]] \
  || die "sandbox $name has no contract.json for the stand-in (made before it was shipped): recreate it (npm run sandbox:down -- --name $name, then sandbox:up)"

api_key=$(cat)
[[ -n $api_key ]] || die "give the API key on stdin"
key_sha256=$(printf '%s' "$api_key" | sha256sum | cut -d' ' -f1)
unset api_key

jq -n --arg adminEmail "$admin_email" --arg apiKeySha256 "$key_sha256" --argjson msPerFile "$ms_per_file" \
  '{adminEmail: $adminEmail, apiKeySha256: $apiKeySha256, msPerFile: $msPerFile}' \
  | inside sh -c 'mkdir -p /etc/immich-standin && cat > /etc/immich-standin/config.json.tmp && chmod 0644 /etc/immich-standin/config.json.tmp && mv /etc/immich-standin/config.json.tmp /etc/immich-standin/config.json'
$configure_only && exit 0

if inside systemctl cat immich-server.service > /dev/null 2>&1; then
  unit=immich-server.service
  inside systemctl restart "$unit"
else
  unit=immich-standin.service
  inside systemctl stop "$unit" > /dev/null 2>&1 || true
  inside systemd-run --quiet --unit "$unit" --property=StateDirectory=immich-standin \
    /usr/bin/node /usr/local/lib/immich-standin/server.js \
    --spec /usr/local/lib/immich-standin/contract.json --config /etc/immich-standin/config.json \
    --state-dir /var/lib/immich-standin --start-delay 0
fi
printf '%s\n' "$unit" > "$state/immich-standin.unit"

# The unit's main PID inside the container, as this machine numbers it (NSpid's first field).
host_pid() {
  local inner pid
  inner=$(inside systemctl show -p MainPID --value "$unit")
  [[ $inner =~ ^[1-9][0-9]*$ ]] || return 1
  for pid in $(ip netns pids "skylab-$name"); do
    if [[ $(awk '/^NSpid:/ {print $NF}' "/proc/$pid/status" 2> /dev/null) == "$inner" ]]; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
  if inside curl -fsS --max-time 2 http://127.0.0.1:2283/api/server/ping 2> /dev/null | grep -q pong; then
    host_pid || die "the stand-in answers but its PID was not found"
    exit 0
  fi
  sleep 0.2
done
inside journalctl --no-pager -n 20 -u "$unit" >&2 || true
die "the stand-in ($unit) did not answer on 127.0.0.1:2283 in sandbox $name within 30s"
