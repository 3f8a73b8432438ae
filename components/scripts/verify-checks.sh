# Verification checks run on the host after activation (sourced by nixos-apply-job.sh).
# CHECKS holds one check per line, fields separated by tabs:
#   mount <mount point> <options, comma-separated as declared>
#   owner <path> <user:group> <octal mode>
#   readable-by <path> <user>
#   secret <path> <user:group> <octal mode>
#   unit <systemd unit>
#   http <url> <text the answer must contain> [<Host header>]
# run_checks prints a JSON array of {check,target,status,detail}; status is pass, fail or
# not-applicable (a check that cannot run on this host, with the reason; never counted as passed).
# shellcheck shell=bash

check_json() {
  local s out=()
  for s in "$@"; do
    s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/ }; s=${s//$'\t'/ }
    out+=("\"$s\"")
  done
  printf '{"check":%s,"target":%s,"status":%s,"detail":%s}' "${out[@]}"
}

systemd_running() { [ -d /run/systemd/system ]; }
NO_SYSTEMD="systemd is not running on this host (the sandbox stands in for NixOS): services are declared, not started"

check_mount() {
  local mount_point=$1 options=$2 line source fstype live fsroot option name value
  line=$(findmnt -rn -o SOURCE,FSTYPE,OPTIONS,FSROOT --mountpoint "$mount_point" | tail -n1) || true
  if [ -z "$line" ]; then echo "fail|not mounted"; return; fi
  read -r source fstype live fsroot <<<"$line"
  IFS=, read -r -a wanted <<<"$options"
  for option in "${wanted[@]}"; do
    name=${option%%=*}; value=${option#*=}
    case $option in
      bind|defaults) ;;
      subvol=*) [ "$fsroot" = "/${value#/}" ] || { echo "fail|mounted from $fsroot, expected /${value#/}"; return; } ;;
      compress=*|compress-force=*)
        if [[ ",$live," != *",$option,"* ]] && { [[ $value == *:* ]] || [[ ",$live," != *",$name=$value:"* ]]; }; then
          echo "fail|$option not effective (live: $live)"; return
        fi ;;
      *) [[ ",$live," == *",$option,"* ]] || { echo "fail|$option missing (live: $live)"; return; } ;;
    esac
  done
  echo "pass|$source $fstype $live"
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

check_unit() {
  local unit=$1
  if ! systemd_running; then echo "not-applicable|$NO_SYSTEMD"; return; fi
  if systemctl is-active --quiet "$unit"; then echo "pass|active"; else echo "fail|$(systemctl is-active "$unit" 2>&1)"; fi
}

check_http() {
  local url=$1 expect=$2 host=${3:-} body
  if ! systemd_running; then echo "not-applicable|$NO_SYSTEMD"; return; fi
  local args=(-fsS --max-time 10)
  [ -n "$host" ] && args+=(-H "Host: $host")
  if body=$(curl "${args[@]}" "$url" 2>&1); then
    if [[ $body == *"$expect"* ]]; then echo "pass|answered $expect"; else echo "fail|answer lacks $expect: ${body:0:120}"; fi
  else
    echo "fail|$body"
  fi
}

run_checks() {
  local first=1 failed=0 kind a b c result status detail
  printf '['
  while IFS=$'\t' read -r kind a b c; do
    [ -n "$kind" ] || continue
    case $kind in
      mount) result=$(check_mount "$a" "$b") ;;
      owner|secret) result=$(check_owner "$a" "$b" "$c") ;;
      readable-by) result=$(check_readable_by "$a" "$b") ;;
      unit) result=$(check_unit "$a") ;;
      http) result=$(check_http "$a" "$b" "$c") ;;
      *) result="fail|unknown check $kind" ;;
    esac
    status=${result%%|*}; detail=${result#*|}
    [ "$status" = fail ] && failed=$((failed + 1))
    [ $first -eq 1 ] || printf ','
    first=0
    check_json "$kind" "$a" "$status" "$detail"
  done <<<"$CHECKS"
  printf ']\n'
  return $((failed > 0))
}
