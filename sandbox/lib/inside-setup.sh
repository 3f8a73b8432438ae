#!/usr/bin/env bash
# Runs as the first process of a sandbox, already inside its network namespace and a fresh private
# mount namespace. Builds the sandbox's root (an overlay of this machine's `/`), gives it the files that
# make it SKYLAB-shaped, then becomes `systemd-nspawn --boot`: a real systemd is PID 1 inside, and
# sandbox-provision.service, then sandbox-sshd.service, run as its units.
#
# Everything mounted here is mounted only in this mount namespace (and the container's, below it): the
# machine's own /etc, /var, /home, /root, /mnt, /media, /nix, /run, /tmp, /usr/local and /dev are never
# written.
set -euo pipefail

state_dir=$1       # .sandbox/NAME on the host
sandbox_src=$2     # the repo's sandbox/ folder
repo_root=$3       # hidden inside the sandbox
loop_device=$4     # this sandbox's MEDIAS loop device
address=$5
config_repo=$6
sops_bin=$7
machine=$8         # the container's machine name (skylab-NAME)
oracle=$9          # the pinned nixpkgs subset (sandbox/README.md)

# This shell execs systemd-nspawn, so its PID is the sandbox's main PID.
echo "$$" > "$state_dir/main.pid"

root=$state_dir/root
mkdir -p "$state_dir/upper" "$state_dir/work" "$root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$state_dir/upper,workdir=$state_dir/work" "$root"
# nspawn locks the directory it boots with /run/systemd/nspawn/locks/inode-<dev>:<inode> and leaves the
# file behind; the name is only visible from here (the overlay is mounted in this namespace only).
stat -c 'inode-%d:%i' "$root" > "$state_dir/nspawn-lock"

# Directories that start empty and stay inspectable from the host.
for dir in home root mnt media nix usr/local; do
  fresh=$state_dir/fs/${dir//\//-}
  mkdir -p "$fresh" "$root/$dir"
  mount --bind "$fresh" "$root/$dir"
done
chmod 0700 "$root/root"
# nspawn mounts its own /dev, /proc, /sys and /run; /tmp is made empty here so that nothing of this
# machine's /tmp shows through the overlay even for a moment.
mount -t tmpfs -o mode=1777,size=1g tmpfs "$root/tmp"

# sshd and the provisioning write their logs through these binds so the host can read them.
: > "$state_dir/sshd.log"
mkdir -p "$root/var/log"
: > "$root/var/log/sandbox-sshd.log"
mount --bind "$state_dir/sshd.log" "$root/var/log/sandbox-sshd.log"
: > "$root/var/log/sandbox-setup.log"
mount --bind "$state_dir/setup.log" "$root/var/log/sandbox-setup.log"

tools=$root/usr/local
mkdir -p "$tools/bin" "$tools/lib/nixos-rebuild-standin" "$tools/lib/skylab-sandbox" "$tools/lib/immich-standin"
install -m 0755 "$sandbox_src/standin/nixos-rebuild" "$tools/bin/nixos-rebuild"
ln -s nixos-rebuild "$tools/bin/nixos-rebuild-standin"
install -m 0644 "$sandbox_src"/standin/*.nix "$sandbox_src"/standin/*.py "$tools/lib/nixos-rebuild-standin/"
# NixOS' own evaluation (standin/nixos.nix) reads the real module system and modules from here, read-only.
cp -R "$oracle" "$tools/lib/nixos-rebuild-standin/nixpkgs-oracle"
chmod -R a-w,a+rX "$tools/lib/nixos-rebuild-standin/nixpkgs-oracle"
# root's channel `nixos`, where NixOS keeps <nixpkgs>: `import <nixpkgs/nixos> { configuration; }` evaluates
# with the same real module system (standin/channel/nixos/default.nix); its lib is the subset's.
channel=$root/nix/var/nix/profiles/per-user/root/channels/nixos
mkdir -p "$channel/nixos"
install -m 0644 "$sandbox_src/standin/channel/nixos/default.nix" "$channel/nixos/default.nix"
ln -s /usr/local/lib/nixos-rebuild-standin/nixpkgs-oracle/lib "$channel/lib"
install -m 0755 "$sops_bin" "$tools/bin/sops"
cp -R "$sandbox_src/fixtures" "$tools/lib/skylab-sandbox/fixtures"
install -m 0755 "$sandbox_src/lib/provision.sh" "$sandbox_src/lib/make-sample-data.py" "$tools/lib/skylab-sandbox/"
# The Immich stand-in and the contract it enforces (generated from contract.ts, committed).
install -m 0644 "$sandbox_src/immich-standin/server.js" "$sandbox_src/immich-standin/database.js" "$sandbox_src/immich-standin/contract.json" "$tools/lib/immich-standin/"

install -m 0600 "$state_dir/ssh_host_ed25519_key" "$root/etc/ssh/sandbox_host_ed25519_key"
install -m 0644 "$state_dir/ssh_host_ed25519_key.pub" "$root/etc/ssh/sandbox_host_ed25519_key.pub"
install -m 0644 "$state_dir/client_ed25519.pub" "$root/etc/ssh/sandbox_client_key.pub"
install -m 0644 "$state_dir/sshd_config" "$root/etc/ssh/sshd_config_sandbox"

# The repo (and with it every sandbox's client key) stays out of the sandbox's view.
if [[ -d $root$repo_root ]]; then
  mount -t tmpfs -o ro,mode=0755,size=4k tmpfs "$root$repo_root"
fi

# A machine of its own: identity, and only the units the sandbox means. This machine's enabled units
# (its sshd, PostgreSQL, nginx, timers) are not the sandbox's: /etc/systemd/system starts empty.
echo skylab > "$root/etc/hostname"
rm -f "$root/etc/machine-id"
systemd-id128 new > "$root/etc/machine-id"
units=$root/etc/systemd/system
rm -rf "$units"
mkdir -p "$units/multi-user.target.wants" "$root/etc/systemd/system-generators" "$root/etc/tmpfiles.d"
install -m 0644 "$sandbox_src/lib/sandbox-sshd.service" "$units/"
# Units start with a minimal PATH, as on NixOS (there: coreutils, findutils, grep, sed, systemd; never
# /usr/local/bin, where the sandbox's nixos-rebuild is): a transient unit must set the PATH it needs.
mkdir -p "$root/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultEnvironment=PATH=/usr/bin:/bin\n' > "$root/etc/systemd/system.conf.d/skylab-sandbox.conf"
# systemd's own fstab generator ignores device entries inside a container ("Running in a container,
# ignoring fstab device entry"); this one turns /etc/fstab into mount units as it does on a host.
install -m 0755 "$sandbox_src/standin/fstab-generator" "$root/etc/systemd/system-generators/skylab-fstab-generator"
# This machine's PostgreSQL clusters are not the sandbox's either: Debian's generator would start them with
# any postgresql.service, and its cluster occupies /var/lib/postgresql/<major>, the data directory nixpkgs'
# module uses (the layers below are untouched: these are whiteouts in the sandbox's upper layer).
ln -sfn /dev/null "$root/etc/systemd/system-generators/postgresql-generator"
rm -rf "$root/var/lib/postgresql" "$root/etc/postgresql"
# There is no udev: the MEDIAS links are made at boot, pointing at this sandbox's loop device.
medias_uuid=$(blkid -o value -s UUID "$loop_device")
printf 'L /dev/disk/by-label/MEDIAS - - - - %s\nL /dev/disk/by-uuid/%s - - - - %s\n' \
  "$loop_device" "$medias_uuid" "$loop_device" > "$root/etc/tmpfiles.d/skylab-sandbox-dev.conf"
: > "$root/etc/fstab"

exec systemd-nspawn --quiet --directory="$root" --machine="$machine" --hostname=skylab --boot \
  --register=no --keep-unit --link-journal=no --resolv-conf=off --timezone=off \
  --bind="$loop_device" > "$state_dir/console.log" 2>&1
