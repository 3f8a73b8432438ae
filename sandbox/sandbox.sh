#!/usr/bin/env bash
# Disposable "sandbox SKYLAB" hosts: see sandbox/README.md.
#
#   sandbox.sh up   [--name NAME] [--size SIZE] [--config-repo PATH] [--flake] [--owner none|phase3|phase1] [--immich-running]
#   sandbox.sh down [--name NAME]
#   sandbox.sh ssh  [--name NAME] [--user root|skyadmin] [--] CMD...
#   sandbox.sh exec [--name NAME] [--] CMD...   (inside the container, as root, without SSH)
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
  sed -n '4,8p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
  exit 2
}

command=${1:-}
[[ -n $command ]] || usage
shift

name=skylab
size=256M
config_repo=/etc/nixos
config_kind=plain
# The owner's starting state (sandbox/README.md): phase3 is SKYLAB as the owner's plan describes it.
owner_state=phase3
ssh_user=root
remote=()
while (($#)); do
  case $1 in
    --name) name=${2:?--name needs a value}; shift 2 ;;
    --size) size=${2:?--size needs a value}; shift 2 ;;
    --config-repo) config_repo=${2:?--config-repo needs a value}; shift 2 ;;
    --flake) config_kind=flake; shift ;;
    --owner) owner_state=${2:?--owner needs a value}; shift 2 ;;
    --immich-running) owner_state=immich-enabled; shift ;;
    --user) ssh_user=${2:?--user needs a value}; shift 2 ;;
    --) shift; remote=("$@"); break ;;
    *)
      if [[ $command == ssh || $command == exec ]]; then remote=("$@"); break; fi
      die "unknown argument '$1'"
      ;;
  esac
done

[[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] \
  || die "--name must match ^[a-z0-9][a-z0-9-]{0,30}\$ (got \"$name\"): it names a network namespace"
[[ $size =~ ^[0-9]+[MG]$ ]] || die "--size must look like 256M or 1G (got \"$size\")"
[[ $config_repo =~ ^/[A-Za-z0-9._/-]+$ ]] || die "--config-repo must be an absolute path of [A-Za-z0-9._/-] (got \"$config_repo\")"
[[ $owner_state =~ ^(none|immich-enabled|phase3|phase1)$ ]] \
  || die "--owner must be none, phase3 or phase1 (got \"$owner_state\"): the owner's starting state, see sandbox/README.md"
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
  pid=$(cat "$state/main.pid" 2> /dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2> /dev/null || return 1
  # Guard against PID reuse: the process must live in this sandbox's network namespace.
  [[ $(ip netns identify "$pid" 2> /dev/null) == "$netns" ]] || return 1
  printf '%s\n' "$pid"
}

# The container's PID 1 (systemd), as this machine sees it: the child of nspawn that runs systemd.
init_pid() {
  local main child
  main=$(main_pid) || return 1
  for child in $(pgrep -P "$main"); do
    if [[ $(cat "/proc/$child/comm" 2> /dev/null) == systemd ]]; then
      printf '%s\n' "$child"
      return 0
    fi
  done
  return 1
}

# A command inside the container, in all its namespaces, with a clean environment.
inside() {
  local pid
  pid=$(init_pid) || return 1
  nsenter -t "$pid" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 LC_ALL=C "$@"
}

# nspawn runs in a cgroup of the sandbox's own, so what it leaves there (payload/, supervisor/) can be
# removed without touching anything of this machine. Prints one folder per hierarchy it uses.
cgroup_dirs() {
  local line
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    line=$(grep '^0::' /proc/self/cgroup | cut -d: -f3-)
    printf '%s\n' "/sys/fs/cgroup${line%/}/skylab-sandbox-$name"
    return
  fi
  if [[ -d /sys/fs/cgroup/unified ]]; then
    line=$(grep '^0::' /proc/self/cgroup | cut -d: -f3-)
    printf '%s\n' "/sys/fs/cgroup/unified${line%/}/skylab-sandbox-$name"
  fi
  if [[ -d /sys/fs/cgroup/systemd ]]; then
    line=$(grep '^[0-9]*:name=systemd:' /proc/self/cgroup | cut -d: -f3-)
    printf '%s\n' "/sys/fs/cgroup/systemd${line%/}/skylab-sandbox-$name"
  fi
}

remove_cgroups() {
  local dir
  [[ -f $state/cgroups ]] || return 0
  while IFS= read -r dir; do
    [[ $dir == /sys/fs/cgroup/*/skylab-sandbox-"$name" || $dir == /sys/fs/cgroup/skylab-sandbox-"$name" ]] || continue
    [[ -d $dir ]] && find "$dir" -depth -type d -exec rmdir {} + 2> /dev/null
    [[ ! -d $dir ]] || printf 'sandbox: cgroup %s is still in use\n' "$dir" >&2
  done < "$state/cgroups"
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
    [[ -f $dir/taken-indexes ]] && mapfile -t -O "${#used[@]}" used < "$dir/taken-indexes"
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
  local pids=() alive=() pid deadline loops dev index main lock
  # nspawn passes SIGTERM on as a clean shutdown of the container's systemd (SIGRTMIN+3).
  if main=$(main_pid); then
    kill -TERM "$main" 2> /dev/null || true
    deadline=$((SECONDS + 15))
    while kill -0 "$main" 2> /dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  fi
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
  remove_cgroups
  # nspawn's bookkeeping: this container's entries, then the folders if no other container uses them.
  rm -rf -- "/run/systemd/nspawn/propagate/skylab-$name"
  lock=$(cat "$state/nspawn-lock" 2> /dev/null || true)
  if [[ $lock =~ ^inode-[0-9]+:[0-9]+$ ]]; then rm -f -- "/run/systemd/nspawn/locks/$lock"; fi
  rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/locks /run/systemd/nspawn 2> /dev/null || true
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

# The pinned subset of the real nixpkgs the stand-in evaluates with (sandbox/README.md): SKYLAB_NIXPKGS_ORACLE,
# else ../shared/nixpkgs-oracle beside the repository. It is not part of the repository; without it there is
# no sandbox.
find_nixpkgs_oracle() {
  local oracle=${SKYLAB_NIXPKGS_ORACLE:-$repo_root/../shared/nixpkgs-oracle}
  [[ -f $oracle/check.nix && -f $oracle/lib/default.nix ]] \
    || die "the pinned nixpkgs subset is missing: no check.nix and lib/ in $oracle. Put it at ../shared/nixpkgs-oracle beside the repository or set SKYLAB_NIXPKGS_ORACLE to its folder"
  (cd "$oracle" && pwd)
}

# A failed `up` leaves nothing behind: the logs are shown, then everything is removed.
fail_up() {
  printf 'sandbox %s failed to start: %s\n--- setup log ---\n' "$name" "$1" >&2
  tail -n 40 "$state/setup.log" >&2 || true
  printf -- '--- sshd log ---\n' >&2
  tail -n 20 "$state/sshd.log" >&2 || true
  printf -- '--- container console ---\n' >&2
  tail -n 20 "$state/console.log" >&2 || true
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
  local sops_bin oracle started index host_address sandbox_address loop pid init deadline
  sops_bin=$(find_sops)
  oracle=$(find_nixpkgs_oracle)
  started=$SECONDS
  mkdir -p "$state"
  chmod 0700 "$state"
  # Sandboxes made at the same time must not pick the same index: allocate under a lock, and claim it at once
  # with the network namespace and the host side of the veth pair (a sandbox of another checkout, which
  # this lock does not cover, makes `ip link add` of the same name fail: the next free index is taken).
  ip netns add "$netns"
  exec {index_lock}> "$sandboxes/.index.lock"
  flock "$index_lock"
  while :; do
    index=$(allocate_index) || fail_up "no free sandbox address left in 10.231.0.0/16"
    ip link add "$(host_veth "$index")" type veth peer name "$(sandbox_veth "$index")" netns "$netns" 2> /dev/null && break
    printf '%s\n' "$index" >> "$state/taken-indexes"
  done
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

  ip addr add "$host_address/30" dev "$(host_veth "$index")"
  ip link set "$(host_veth "$index")" up
  ip -n "$netns" addr add "$sandbox_address/30" dev "$(sandbox_veth "$index")"
  ip -n "$netns" link set "$(sandbox_veth "$index")" up
  ip -n "$netns" link set lo up

  cgroup_dirs > "$state/cgroups"
  : > "$state/setup.log"
  # A clean environment: nothing of the caller's (tokens, passphrases) leaks into the sandbox. The
  # network namespace is entered with nsenter, not `ip netns exec`, which would hide /sys/fs/cgroup
  # behind a fresh sysfs (nspawn needs it).
  (
    while IFS= read -r dir; do
      mkdir -p "$dir"
      echo "$BASHPID" > "$dir/cgroup.procs"
    done < "$state/cgroups"
    exec setsid env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      nsenter --net="/run/netns/$netns" unshare --mount --propagation private \
      bash "$here/lib/inside-setup.sh" "$state" "$here" "$repo_root" "$loop" "$sandbox_address" "$config_repo" \
      "$sops_bin" "skylab-$name" "$oracle" >> "$state/setup.log" 2>&1 < /dev/null 9>&-
  ) &
  local launcher=$! state_now=""

  deadline=$((SECONDS + 60))
  until [[ $state_now == running || $state_now == degraded ]]; do
    if ((SECONDS > deadline)); then fail_up "its systemd did not finish booting in 60s (last state: ${state_now:-none})"; fi
    kill -0 "$launcher" 2> /dev/null || fail_up "systemd-nspawn exited"
    state_now=$(inside systemctl is-system-running 2> /dev/null) || true
    [[ -n $state_now ]] || sleep 0.1
    [[ $state_now == running || $state_now == degraded ]] || sleep 0.1
  done
  if [[ $state_now == degraded ]]; then
    printf 'sandbox %s: its systemd reports failed units:\n%s\n' "$name" "$(inside systemctl --failed --no-legend)" >> "$state/setup.log"
  fi
  inside timeout 120 /usr/local/lib/skylab-sandbox/provision.sh "$loop" "$sandbox_address" "$config_repo" "$config_kind" "$owner_state" \
    >> "$state/setup.log" 2>&1 < /dev/null || fail_up "provisioning failed"
  inside systemctl start sandbox-sshd.service >> "$state/setup.log" 2>&1 || fail_up "sandbox-sshd.service did not start"
  pid=$(main_pid) || fail_up "its main process is gone"
  init=$(init_pid) || fail_up "its systemd is gone"

  jq -n --arg name "$name" --arg address "$sandbox_address" --arg hostAddress "$host_address" \
    --arg adminUser "$admin_user" --arg privateKeyPath "$state/client_ed25519" \
    --arg knownHostsPath "$state/known_hosts" \
    --arg hostPublicKey "$(cut -d' ' -f1,2 "$state/ssh_host_ed25519_key.pub")" \
    --arg configRepo "$config_repo" --arg configKind "$config_kind" --arg mediasDevice "$loop" --arg stateDir "$state" \
    --arg sshdLog "$state/sshd.log" --arg netns "$netns" --argjson pid "$pid" --argjson initPid "$init" \
    '{name: $name, address: $address, port: 22, users: ["root", $adminUser], adminUser: $adminUser,
      privateKeyPath: $privateKeyPath, knownHostsPath: $knownHostsPath, hostPublicKey: $hostPublicKey,
      configRepo: $configRepo, configKind: $configKind, mediasDevice: $mediasDevice, mediasLabel: "MEDIAS", hostAddress: $hostAddress,
      netns: $netns, pid: $pid, initPid: $initPid, stateDir: $stateDir, sshdLog: $sshdLog}' > "$state/connection.json.tmp"
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
  exec)
    ((${#remote[@]})) || die "exec needs a command after --"
    inside "${remote[@]}" || die "sandbox $name is not up, or the command failed"
    ;;
  status)
    if healthy; then cat "$state/connection.json"; else die "sandbox $name is not up"; fi
    ;;
  *) usage ;;
esac
