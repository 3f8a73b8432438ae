# Verification checks run on the host after activation: functions of the apply program
# (nixos-apply.sh). The checks arrive as four arrays of the same length, one check per index:
#   CHECK_KIND   CHECK_TARGET   CHECK_ARG                          CHECK_ARG2
#   mount        mount point    options, comma-separated as declared
#   unmounted    mount point    (destroy: the mount is gone)
#   system       /run/current-system  the system the job activated    its commit (added by the job)
#   owner        path           user:group                         octal mode
#   secret       path           user:group                         octal mode
#   readable-by  path           user
#   unit         systemd unit
#   http         url            text the answer must contain       Host header (or empty)
# run_checks prints a JSON array of {check,target,status,detail}; status is pass, fail or
# not-applicable (a check that cannot run on this host, with the reason; never counted as passed).
# Services take time to come up after a restart: unit and http checks retry until VERIFY_DEADLINE (a
# value of $SECONDS; unset: one try) and say on stderr what they wait for and how long it took.
# shellcheck shell=bash

check_json() {
  printf '{"check":%s,"target":%s,"status":%s,"detail":%s}' "$(json_string "$1")" "$(json_string "$2")" \
    "$(json_string "$3")" "$(json_string "$4")"
}

systemd_running() { [ -d /run/systemd/system ]; }
NO_SYSTEMD="systemd is not running on this host (the sandbox stands in for NixOS): services are declared, not started"

# After destroy's activation /etc/fstab is the new system's (NixOS writes it at activation from fileSystems),
# which no longer holds the program's entries: a mount still declared there is the host's own (the owner's
# fileSystems entry), and stays.
check_unmounted() {
  local line
  line=$(findmnt -rn -o SOURCE,FSTYPE,OPTIONS --mountpoint "$1" | tail -n1) || true
  if [ -z "$line" ]; then
    echo "pass|not mounted"
  elif findmnt -rn --fstab --mountpoint "$1" >/dev/null 2>&1; then
    echo "pass|mounted by the host's own configuration (its fstab entry): $line"
  else
    echo "fail|still mounted: $line"
  fi
}

check_owner() {
  local path=$1 owner=$2 mode=$3 found
  found=$(stat -c '%U:%G %a' -- "$path" 2>/dev/null) || { echo "fail|$path does not exist"; return; }
  if [ "$found" = "$owner ${mode#0}" ]; then echo "pass|$found"; else echo "fail|$found, expected $owner ${mode#0}"; fi
}

check_readable_by() {
  local path=$1 user=$2
  id "$user" >/dev/null 2>&1 || { echo "fail|user $user does not exist"; return; }
  if setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --init-groups -- ls -- "$path" >/dev/null 2>&1; then
    echo "pass|$user can list $path"
  else
    echo "fail|$user cannot list $path: make it readable (e.g. chmod o+rX, or an ACL for $user)"
  fi
}

# Runs "$@" (a probe printing pass|... or fail|...) until it passes or VERIFY_DEADLINE is reached.
until_deadline() {
  local what=$1 started=$SECONDS result announced=0
  shift
  while :; do
    result=$("$@")
    if [ "${result%%|*}" != fail ] || [ "$SECONDS" -ge "${VERIFY_DEADLINE:-0}" ]; then
      if [ $announced -eq 1 ] || [ $((SECONDS - started)) -gt 0 ]; then
        result="$result (waited $((SECONDS - started))s for $what)"
        printf 'verification: %s after %ss: %s\n' "$what" "$((SECONDS - started))" "${result%%|*}" >&2
      fi
      echo "$result"
      return
    fi
    if [ $announced -eq 0 ]; then
      printf 'verification: waiting for %s (up to %ss more): %s\n' "$what" "$((VERIFY_DEADLINE - SECONDS))" "${result#*|}" >&2
      announced=1
    fi
    sleep 1
  done
}

probe_unit() {
  local state
  state=$(systemctl is-active "$1" 2>&1)
  if [ "$state" = active ]; then echo "pass|active"; else echo "fail|$state"; fi
}

check_unit() {
  if ! systemd_running; then echo "not-applicable|$NO_SYSTEMD"; return; fi
  until_deadline "unit $1" probe_unit "$1"
}

probe_http() {
  local url=$1 expect=$2 host=$3 body limit
  limit=$(( ${VERIFY_DEADLINE:-0} - SECONDS ))
  [ "$limit" -ge 2 ] && [ "$limit" -le 10 ] || limit=10
  local args=(-fsS --max-time "$limit")
  [ -n "$host" ] && args+=(-H "Host: $host")
  if body=$(curl "${args[@]}" "$url" 2>&1); then
    if [[ $body == *"$expect"* ]]; then echo "pass|answered $expect"; else echo "fail|answer lacks $expect: ${body:0:120}"; fi
  else
    echo "fail|$body"
  fi
}

check_http() {
  if ! systemd_running; then echo "not-applicable|$NO_SYSTEMD"; return; fi
  until_deadline "$1${3:+ (Host: $3)}" probe_http "$1" "$2" "${3:-}"
}

# The system running now is the one this apply activated, built from its own commit $2 (the host's apply lock
# keeps other applies out meanwhile; this catches an activation by hand in between).
check_system() {
  local running
  running=$(readlink -f /run/current-system 2>/dev/null || true)
  if [ -n "$1" ] && [ "$running" = "$1" ]; then
    echo "pass|$running, activated by this apply from commit ${2:0:12}"
  else
    echo "fail|running ${running:-nothing}, not $1 that this apply activated from commit ${2:0:12}"
  fi
}

run_checks() {
  local i failed=0 kind target a b result status detail
  printf '['
  for i in "${!CHECK_KIND[@]}"; do
    kind=${CHECK_KIND[$i]} target=${CHECK_TARGET[$i]} a=${CHECK_ARG[$i]} b=${CHECK_ARG2[$i]}
    case $kind in
      mount) result=$(check_mount "$target" "$a") ;;
      unmounted) result=$(check_unmounted "$target") ;;
      owner|secret) result=$(check_owner "$target" "$a" "$b") ;;
      readable-by) result=$(check_readable_by "$target" "$a") ;;
      unit) result=$(check_unit "$target") ;;
      http) result=$(check_http "$target" "$a" "$b") ;;
      system) result=$(check_system "$a" "$b") ;;
      *) result="fail|unknown check $kind" ;;
    esac
    status=${result%%|*}; detail=${result#*|}
    [ "$status" = fail ] && failed=$((failed + 1))
    [ "$i" -eq 0 ] || printf ','
    check_json "$kind" "$target" "$status" "$detail"
  done
  printf ']\n'
  return $((failed > 0))
}
