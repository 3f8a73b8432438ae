#!/usr/bin/env bash
# Runs as the first process of a sandbox, already inside its network namespace and a fresh private
# mount (and UTS) namespace. Builds the sandbox's filesystem view, pivots into it, provisions the
# SKYLAB-like layout and finally becomes sshd, so the namespaces live exactly as long as sshd.
#
# Everything mounted here is mounted only in this mount namespace: the machine's own /etc, /var,
# /home, /root, /mnt, /media, /nix, /run, /tmp, /usr/local and /dev are never written.
set -euo pipefail

state_dir=$1       # .sandbox/NAME on the host
sandbox_src=$2     # the repo's sandbox/ folder
repo_root=$3       # hidden inside the sandbox
loop_device=$4     # this sandbox's MEDIAS loop device
address=$5
config_repo=$6
sops_bin=$7

# This shell execs sshd, so its PID is the sandbox's main PID.
echo "$$" > "$state_dir/sshd.pid"

root=$state_dir/root
mkdir -p "$state_dir/upper" "$state_dir/work" "$root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$state_dir/upper,workdir=$state_dir/work" "$root"

# Directories that start empty and stay inspectable from the host.
for dir in home root mnt media nix usr/local; do
  fresh=$state_dir/fs/${dir//\//-}
  mkdir -p "$fresh" "$root/$dir"
  mount --bind "$fresh" "$root/$dir"
done
chmod 0700 "$root/root"

mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount -t tmpfs -o mode=0755,size=256m tmpfs "$root/run"
mount -t tmpfs -o mode=1777,size=1g tmpfs "$root/tmp"

# A private /dev: the host has no /dev/disk (and must not get one), and two sandboxes must each
# resolve /dev/disk/by-label/MEDIAS to their own loop device.
mount -t tmpfs -o mode=0755,size=1m tmpfs "$root/dev"
for entry in /dev/*; do
  base=${entry#/dev/}
  case $base in
    tty[0-9]* | vcs* | ptmx | pts | shm | mqueue | disk | log) continue ;;
  esac
  if [[ -L $entry ]]; then
    cp -P "$entry" "$root/dev/$base"
  elif [[ -c $entry || -b $entry ]]; then
    : > "$root/dev/$base"
    mount --bind "$entry" "$root/dev/$base"
  elif [[ -d $entry ]]; then
    mkdir "$root/dev/$base"
    mount --rbind "$entry" "$root/dev/$base"
  fi
done
mkdir -p "$root/dev/pts" "$root/dev/shm" "$root/dev/disk/by-label" "$root/dev/disk/by-uuid"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/dev/shm"
ln -s "../../${loop_device#/dev/}" "$root/dev/disk/by-label/MEDIAS"
medias_uuid=$(blkid -o value -s UUID "$loop_device")
ln -s "../../${loop_device#/dev/}" "$root/dev/disk/by-uuid/$medias_uuid"

# sshd writes its log through this bind so the host can count connections.
: > "$state_dir/sshd.log"
mkdir -p "$root/var/log"
: > "$root/var/log/sandbox-sshd.log"
mount --bind "$state_dir/sshd.log" "$root/var/log/sandbox-sshd.log"

tools=$root/usr/local
mkdir -p "$tools/bin" "$tools/lib/nixos-rebuild-standin" "$tools/lib/skylab-sandbox"
install -m 0755 "$sandbox_src/standin/nixos-rebuild" "$tools/bin/nixos-rebuild"
ln -s nixos-rebuild "$tools/bin/nixos-rebuild-standin"
install -m 0644 "$sandbox_src/standin/eval.nix" "$sandbox_src/standin/lib.nix" "$sandbox_src/standin/pkgs.nix" \
  "$tools/lib/nixos-rebuild-standin/"
install -m 0755 "$sops_bin" "$tools/bin/sops"
cp -R "$sandbox_src/fixtures" "$tools/lib/skylab-sandbox/fixtures"
install -m 0755 "$sandbox_src/lib/provision.sh" "$sandbox_src/lib/make-sample-data.py" "$tools/lib/skylab-sandbox/"

install -m 0600 "$state_dir/ssh_host_ed25519_key" "$root/etc/ssh/sandbox_host_ed25519_key"
install -m 0644 "$state_dir/ssh_host_ed25519_key.pub" "$root/etc/ssh/sandbox_host_ed25519_key.pub"
install -m 0644 "$state_dir/client_ed25519.pub" "$root/etc/ssh/sandbox_client_key.pub"
install -m 0644 "$state_dir/sshd_config" "$root/etc/ssh/sshd_config_sandbox"

# The repo (and with it every sandbox's client key) stays out of the sandbox's view.
if [[ -d $root$repo_root ]]; then
  mount -t tmpfs -o ro,mode=0755,size=4k tmpfs "$root$repo_root"
fi

cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot

hostname skylab
install -d -m 0755 /run/sshd
/usr/local/lib/skylab-sandbox/provision.sh "$loop_device" "$address" "$config_repo"

echo "SANDBOX READY"
exec /usr/sbin/sshd -D -f /etc/ssh/sshd_config_sandbox -E /var/log/sandbox-sshd.log
