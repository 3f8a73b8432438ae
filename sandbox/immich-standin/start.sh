#!/usr/bin/env bash
# Starts the stand-in Immich API inside sandbox NAME: its network namespace (127.0.0.1:2283 is the sandbox's
# loopback, where SKYLAB's Immich listens) and its filesystem view (it scans the sandbox's /media/immich).
#
#   start.sh NAME [--admin-email EMAIL] [--ms-per-file MS] < api-key
#
# The API key comes on stdin and only its sha256 is kept (as Immich keeps keys); it is never an argument.
# The spec is $IMMICH_OPENAPI_SPEC, else ../shared/immich/openapi-subset.json beside the repository.
# Prints the stand-in's PID; a running stand-in of the same sandbox is stopped first.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
die() { printf 'immich stand-in: %s\n' "$*" >&2; exit 1; }

name=${1:-}
[[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "usage: start.sh NAME [--admin-email EMAIL] [--ms-per-file MS] < api-key"
shift
admin_email=admin@skylab.local
ms_per_file=250
while (($#)); do
  case $1 in
    --admin-email) admin_email=${2:?--admin-email needs a value}; shift 2 ;;
    --ms-per-file) ms_per_file=${2:?--ms-per-file needs a value}; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[[ $ms_per_file =~ ^[0-9]+$ ]] || die "--ms-per-file must be a number of milliseconds (got \"$ms_per_file\")"

state=$repo_root/.sandbox/$name
[[ -f $state/connection.json ]] || die "sandbox $name is not up: run 'npm run sandbox:up -- --name $name' first"
pid=$(jq -r .pid "$state/connection.json")
netns=$(jq -r .netns "$state/connection.json")
[[ $(ip netns identify "$pid" 2> /dev/null) == "$netns" ]] || die "sandbox $name's main process $pid is gone: recreate the sandbox"

spec=${IMMICH_OPENAPI_SPEC:-$repo_root/../shared/immich/openapi-subset.json}
[[ -f $spec ]] || die "Immich's OpenAPI subset not found at $spec: set IMMICH_OPENAPI_SPEC to openapi-subset.json (shared/immich)"

api_key=$(cat)
[[ -n $api_key ]] || die "give the API key on stdin"
key_sha256=$(printf '%s' "$api_key" | sha256sum | cut -d' ' -f1)
unset api_key

bash "$here/stop.sh" "$name" > /dev/null

# /usr/local inside the sandbox is .sandbox/NAME/fs/usr-local here (sandbox/README.md).
lib=$state/fs/usr-local/lib/immich-standin
install -d -m 0700 "$lib"
install -m 0644 "$here/server.js" "$lib/server.js"
install -m 0644 "$spec" "$lib/openapi-subset.json"
(umask 077 && jq -n --arg adminEmail "$admin_email" --arg apiKeySha256 "$key_sha256" \
  '{adminEmail: $adminEmail, apiKeySha256: $apiKeySha256}' > "$lib/config.json")

setsid nsenter --target "$pid" --mount --net --root --wd -- /usr/bin/node /usr/local/lib/immich-standin/server.js \
  --spec /usr/local/lib/immich-standin/openapi-subset.json --config /usr/local/lib/immich-standin/config.json \
  --state-dir /var/lib/immich-standin --ms-per-file "$ms_per_file" \
  > "$state/immich-standin.out" 2>&1 < /dev/null &
server=$!
printf '%s\n' "$server" > "$state/immich-standin.pid"

for ((i = 0; i < 100; i++)); do
  if nsenter --target "$pid" --net -- curl -fsS --max-time 2 http://127.0.0.1:2283/api/server/ping 2> /dev/null | grep -q pong; then
    printf '%s\n' "$server"
    exit 0
  fi
  kill -0 "$server" 2> /dev/null || break
  sleep 0.1
done
cat "$state/immich-standin.out" >&2 || true
bash "$here/stop.sh" "$name" > /dev/null || true
die "the stand-in did not answer on 127.0.0.1:2283 in sandbox $name"
