#!/usr/bin/env bash
# Disposable "sandbox SKYLAB" hosts: see sandbox/README.md.
#
#   sandbox.sh up   [--name NAME] [--size SIZE] [--config-repo PATH]
#   sandbox.sh down [--name NAME]
#   sandbox.sh ssh  [--name NAME] [--user root|skyadmin] [--] CMD...
#   sandbox.sh status [--name NAME]
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/.." && pwd)
sandboxes=$repo_root/.sandbox
admin_user=skyadmin

die() {
  printf 'sandbox: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '4,7p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
  exit 2
}

command=${1:-}
[[ -n $command ]] || usage
shift

name=skylab
size=256M
config_repo=/etc/nixos
ssh_user=root
remote=()
while (($#)); do
  case $1 in
    --name) name=${2:?--name needs a value}; shift 2 ;;
    --size) size=${2:?--size needs a value}; shift 2 ;;
    --config-repo) config_repo=${2:?--config-repo needs a value}; shift 2 ;;
    --user) ssh_user=${2:?--user needs a value}; shift 2 ;;
    --) shift; remote=("$@"); break ;;
    *)
      if [[ $command == ssh ]]; then remote=("$@"); break; fi
      die "unknown argument '$1'"
      ;;
  esac
done

[[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] \
  || die "--name must match ^[a-z0-9][a-z0-9-]{0,30}\$ (got \"$name\"): it names a network namespace"
[[ $size =~ ^[0-9]+[MG]$ ]] || die "--size must look like 256M or 1G (got \"$size\")"
[[ $config_repo =~ ^/[A-Za-z0-9._/-]+$ ]] || die "--config-repo must be an absolute path of [A-Za-z0-9._/-] (got \"$config_repo\")"
[[ $ssh_user == root || $ssh_user == "$admin_user" ]] || die "--user must be root or $admin_user (got \"$ssh_user\")"
[[ $repo_root != *[,:[:space:]]* ]] || die "the repository path must not contain commas, colons or spaces (overlayfs options): $repo_root"

state=$sandboxes/$name
netns=skylab-$name

index_of() { cat "$state/index" 2> /dev/null || true; }
host_veth() { printf 'skysbx%sh' "$1"; }
sandbox_veth() { printf 'skysbx%ss' "$1"; }

with_lock() {
  mkdir -p "$sandboxes"
  exec 9> "$sandboxes/.lock"
  flock 9
}

ssh_argv() {
  local user=$1
  local address
  address=$(jq -r .address "$state/connection.json")
  printf '%s\0' ssh -F none -i "$state/client_ed25519" -o IdentitiesOnly=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$state/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR -p 22 -- "$user@$address"
}

main_pid() {
  local pid
  pid=$(cat "$state/sshd.pid" 2> /dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2> /dev/null || return 1
  # Guard against PID reuse: the process must live in this sandbox's network namespace.
  [[ $(ip netns identify "$pid" 2> /dev/null) == "$netns" ]] || return 1
  printf '%s\n' "$pid"
}

healthy() {
  [[ -f $state/connection.json ]] || return 1
  main_pid > /dev/null || return 1
  local argv=()
  mapfile -d '' argv < <(ssh_argv root)
  timeout 15 "${argv[@]}" true < /dev/null > /dev/null 2>&1
}

allocate_index() {
  local used=() index dir
  for dir in "$sandboxes"/*/; do
    [[ -f $dir/index ]] && used+=("$(cat "$dir/index")")
  done
  for ((index = 1; index < 255; index++)); do
    [[ " ${used[*]} " == *" $index "* ]] && continue
    ip -o addr show | grep -q "inet 10\.231\.$index\." && continue
    ip link show "$(host_veth "$index")" > /dev/null 2>&1 && continue
    printf '%s\n' "$index"
    return 0
  done
  die "no free sandbox address left in 10.231.0.0/16"
}

teardown() {
  local pids=() alive=() pid deadline loops dev index
  if ip netns list | grep -qE "^$netns( |\$)"; then
    mapfile -t pids < <(ip netns pids "$netns")
  fi
  if pid=$(main_pid); then pids+=("$pid"); fi
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2> /dev/null || true
    deadline=$((SECONDS + 5))
    while ((SECONDS < deadline)); do
      alive=()
      for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive+=("$pid"); done
      ((${#alive[@]})) || break
      sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2> /dev/null; do sleep 0.05; done
    done
  fi

  # MEDIAS is mounted only inside the sandbox's mount namespace, which is released with its last
  # process; detaching waits for that.
  if [[ -f $state/medias.img ]]; then
    deadline=$((SECONDS + 20))
    while :; do
      mapfile -t loops < <(losetup -n -O NAME -j "$state/medias.img")
      ((${#loops[@]})) || break
      for dev in "${loops[@]}"; do losetup -d "$dev" 2> /dev/null || true; done
      ((SECONDS < deadline)) || die "loop device(s) ${loops[*]} of $name are still busy"
      sleep 0.2
    done
  fi

  if ip netns list | grep -qE "^$netns( |\$)"; then ip netns delete "$netns"; fi
  index=$(index_of)
  # Deleting the namespace destroys the veth pair too, asynchronously: it may be gone by now.
  if [[ -n $index ]] && ip link show "$(host_veth "$index")" > /dev/null 2>&1; then
    ip link delete "$(host_veth "$index")" 2> /dev/null || true
  fi
  if [[ -d $state ]]; then
    # Nothing of the sandbox is mounted in this namespace; refuse to delete through a mount.
    if findmnt -rn -o TARGET | grep -qF -- "$state/"; then
      die "something is mounted under $state on this machine; not deleting it"
    fi
    rm -rf --one-file-system -- "$state"
  fi
}

write_sshd_config() {
  local address=$1
  cat > "$state/sshd_config" << EOF
ListenAddress $address
Port 22
HostKey /etc/ssh/sandbox_host_ed25519_key
PidFile /run/sshd.pid
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile .ssh/authorized_keys
LogLevel VERBOSE
MaxStartups 100:30:200
MaxSessions 50
PrintMotd no
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
}

find_sops() {
  if [[ -x $repo_root/.tools/bin/sops ]]; then
    printf '%s\n' "$repo_root/.tools/bin/sops"
  elif command -v sops > /dev/null; then
    command -v sops
  else
    die "sops not found: run 'npm run setup' (it builds .tools/bin/sops)"
  fi
}

# A failed `up` leaves nothing behind: the logs are shown, then everything is removed.
fail_up() {
  printf 'sandbox %s failed to start: %s\n--- setup log ---\n' "$name" "$1" >&2
  tail -n 40 "$state/setup.log" >&2 || true
  printf -- '--- sshd log ---\n' >&2
  tail -n 20 "$state/sshd.log" >&2 || true
  teardown
  exit 1
}

up() {
  with_lock
  if [[ -d $state ]] || ip netns list | grep -qE "^$netns( |\$)"; then
    if healthy; then
      printf 'sandbox %s is already up\n' "$name" >&2
      cat "$state/connection.json"
      return 0
    fi
    printf 'sandbox %s is half-made: removing it first\n' "$name" >&2
    teardown
  fi
  local sops_bin started index host_address sandbox_address loop pid deadline
  sops_bin=$(find_sops)
  started=$SECONDS
  mkdir -p "$state"
  chmod 0700 "$state"
  # Sandboxes made at the same time must not pick the same index: allocate under a lock.
  exec {index_lock}> "$sandboxes/.index.lock"
  flock "$index_lock"
  index=$(allocate_index)
  printf '%s\n' "$index" > "$state/index"
  flock -u "$index_lock"
  host_address=10.231.$index.1
  sandbox_address=10.231.$index.2

  ssh-keygen -q -t ed25519 -N '' -C "sandbox-$name-host" -f "$state/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C "sandbox-$name-client" -f "$state/client_ed25519"
  printf '%s %s\n' "$sandbox_address" "$(cut -d' ' -f1,2 "$state/ssh_host_ed25519_key.pub")" > "$state/known_hosts"
  write_sshd_config "$sandbox_address"

  truncate -s "$size" "$state/medias.img"
  loop=$(losetup --find --show "$state/medias.img")
  printf '%s\n' "$loop" > "$state/loop"
  mkfs.btrfs -q -f -L MEDIAS "$loop" > /dev/null

  ip netns add "$netns"
  ip link add "$(host_veth "$index")" type veth peer name "$(sandbox_veth "$index")" netns "$netns"
  ip addr add "$host_address/30" dev "$(host_veth "$index")"
  ip link set "$(host_veth "$index")" up
  ip -n "$netns" addr add "$sandbox_address/30" dev "$(sandbox_veth "$index")"
  ip -n "$netns" link set "$(sandbox_veth "$index")" up
  ip -n "$netns" link set lo up

  # A clean environment: nothing of the caller's (tokens, passphrases) leaks into the sandbox.
  setsid env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    ip netns exec "$netns" unshare --mount --uts --propagation private \
    bash "$here/lib/inside-setup.sh" "$state" "$here" "$repo_root" "$loop" "$sandbox_address" "$config_repo" "$sops_bin" \
    > "$state/setup.log" 2>&1 < /dev/null 9>&- &

  deadline=$((SECONDS + 90))
  until grep -q '^SANDBOX READY$' "$state/setup.log" 2> /dev/null; do
    if ((SECONDS > deadline)) || ! kill -0 "$!" 2> /dev/null; then
      fail_up "setup did not finish"
    fi
    sleep 0.1
  done
  sleep 0.2
  pid=$(main_pid) || fail_up "its main process is gone"

  jq -n --arg name "$name" --arg address "$sandbox_address" --arg hostAddress "$host_address" \
    --arg adminUser "$admin_user" --arg privateKeyPath "$state/client_ed25519" \
    --arg knownHostsPath "$state/known_hosts" \
    --arg hostPublicKey "$(cut -d' ' -f1,2 "$state/ssh_host_ed25519_key.pub")" \
    --arg configRepo "$config_repo" --arg mediasDevice "$loop" --arg stateDir "$state" \
    --arg sshdLog "$state/sshd.log" --arg netns "$netns" --argjson pid "$pid" \
    '{name: $name, address: $address, port: 22, users: ["root", $adminUser], adminUser: $adminUser,
      privateKeyPath: $privateKeyPath, knownHostsPath: $knownHostsPath, hostPublicKey: $hostPublicKey,
      configRepo: $configRepo, mediasDevice: $mediasDevice, mediasLabel: "MEDIAS", hostAddress: $hostAddress,
      netns: $netns, pid: $pid, stateDir: $stateDir, sshdLog: $sshdLog}' > "$state/connection.json.tmp"
  mv "$state/connection.json.tmp" "$state/connection.json"

  deadline=$((SECONDS + 15))
  until healthy; do
    ((SECONDS < deadline)) || fail_up "sshd does not answer at $sandbox_address"
    sleep 0.1
  done
  printf 'sandbox %s is up at %s after %ss\n' "$name" "$sandbox_address" "$((SECONDS - started))" >&2
  cat "$state/connection.json"
}

down() {
  with_lock
  if [[ ! -d $state ]] && ! ip netns list | grep -qE "^$netns( |\$)"; then
    printf 'sandbox %s does not exist: nothing to do\n' "$name" >&2
    return 0
  fi
  teardown
  printf 'sandbox %s is down\n' "$name" >&2
}

run_ssh() {
  [[ -f $state/connection.json ]] || die "sandbox $name is not up (no $state/connection.json): run 'npm run sandbox:up -- --name $name'"
  ((${#remote[@]})) || die "ssh needs a command after --"
  local argv=()
  mapfile -d '' argv < <(ssh_argv "$ssh_user")
  exec "${argv[@]}" "${remote[@]}"
}

case $command in
  up) up ;;
  down) down ;;
  ssh) run_ssh ;;
  status)
    if healthy; then cat "$state/connection.json"; else die "sandbox $name is not up"; fi
    ;;
  *) usage ;;
esac
