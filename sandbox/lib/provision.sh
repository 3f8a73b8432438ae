#!/usr/bin/env bash
# Runs inside the booted sandbox (sandbox.sh, through nsenter): gives it SKYLAB's shape.
#   provision.sh LOOP_DEVICE ADDRESS CONFIG_REPO plain|flake OWNER_STATE
# OWNER_STATE, the owner's starting state (sandbox/README.md):
#   none            the owner's immich.nix is empty: nothing of Immich before the first up
#   immich-enabled  the owner's immich.nix enables Immich with nixpkgs' defaults; it runs on /var/lib/immich
#   phase3          the owner's plan, Phases 2 and 3 done by hand: the vhost immich.skylab.local in nginx.nix,
#                   immich.nix enabling Immich with its user, group and a setting; it runs on /var/lib/immich
#   phase1          phase3, and Phase 1 half done: the subvolume @immich made by hand, the plan's
#                   fileSystems."/var/lib/immich" committed in storage.nix, not applied yet (data not moved)
set -euo pipefail

loop_device=$1
address=$2
config_repo=$3
config_kind=$4
owner_state=${5:-none}

export LC_ALL=C SOPS_DISABLE_VERSION_CHECK=true
lib_dir=/usr/local/lib/skylab-sandbox
client_key=$(cat /etc/ssh/sandbox_client_key.pub)

install_authorized_key() {
  local user=$1 home
  home=$(getent passwd "$user" | cut -d: -f6)
  install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$home/.ssh"
  printf '%s\n' "$client_key" > "$home/.ssh/authorized_keys"
  chown "$user:$(id -gn "$user")" "$home/.ssh/authorized_keys"
  chmod 0600 "$home/.ssh/authorized_keys"
}

# Logins: pubkey only. "*" (not "!") so that sshd without PAM does not treat the accounts as locked.
cp /etc/skel/.bashrc /etc/skel/.profile /root/
usermod --password '*' --shell /bin/bash root
install_authorized_key root
useradd --create-home --shell /bin/bash --user-group skyadmin
usermod --password '*' skyadmin
install_authorized_key skyadmin
printf 'skyadmin ALL=(ALL:ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/skyadmin
chmod 0440 /etc/sudoers.d/skyadmin
visudo -cqf /etc/sudoers.d/skyadmin
useradd --create-home --shell /bin/bash --user-group zipang
usermod --password '*' zipang

# sudo resolves the host name; the sandbox has no DNS.
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tskylab skylab.local\n%s\tskylab-sandbox\n' "$address" > /etc/hosts

# NixOS markers.
: > /etc/NIXOS
cat > /etc/os-release <<'EOF'
NAME=NixOS
ID=nixos
PRETTY_NAME="NixOS (sandbox SKYLAB: Debian userland, nixos-rebuild stand-in)"
VERSION_ID="24.05"
EOF
install -d -m 0755 /etc/nixos-rebuild-standin /nix/store /nix/var/nix/profiles
rebuild_args=()
if [[ $config_kind == flake ]]; then
  rebuild_args=(--flake "$config_repo")
elif [[ $config_repo != /etc/nixos ]]; then
  printf '%s\n' "$config_repo/configuration.nix" > /etc/nixos-rebuild-standin/nixos-config
fi

# The host's sops-nix identity.
install -d -m 0755 /var/lib/sops-nix
(umask 077 && age-keygen -o /var/lib/sops-nix/key.txt 2> /dev/null)
host_recipient=$(age-keygen -y /var/lib/sops-nix/key.txt)

# The configuration repo, with history.
install -d -m 0755 "$config_repo"
cd "$config_repo"
git init --quiet --initial-branch=main
git config user.name "zipang"
git config user.email "zipang@skylab.local"
cp -R "$lib_dir/fixtures/nixos/." "$config_repo/"
if [[ $config_kind == flake ]]; then
  cp "$lib_dir/fixtures/flake/flake.nix" "$config_repo/flake.nix"
fi
immich_module=$(cat modules/services/immich.nix)
printf '# Immich photo management: work in progress.\n{ config, lib, pkgs, ... }:\n{\n}\n' > modules/services/immich.nix
cat > .sops.yaml <<EOF
keys:
  - &skylab $host_recipient
creation_rules:
  - path_regex: secrets/.*\\.yaml\$
    key_groups:
      - age:
          - *skylab
EOF
mkdir -p secrets
wifi_psk=$(head -c 18 /dev/urandom | base64)
printf 'wifi:\n    psk: %s\n' "$wifi_psk" \
  | sops encrypt --filename-override secrets/secrets.yaml --input-type yaml --output-type yaml /dev/stdin \
  > secrets/secrets.yaml.tmp
mv secrets/secrets.yaml.tmp secrets/secrets.yaml
git add --all
git commit --quiet -m "Initial SKYLAB configuration: storage, nginx, sops"
printf '%s\n' "$immich_module" > modules/services/immich.nix
case $owner_state in
  immich-enabled)
    # Immich enabled with nixpkgs' defaults, its data in /var/lib/immich on the root filesystem.
    printf '%s\n' "$immich_module" | sed 's/^{$/{\n  services.immich.enable = true;/' > modules/services/immich.nix
    git commit --quiet --all -m "immich: enable the service"
    ;;
  phase3 | phase1)
    cp "$lib_dir/fixtures/owner/modules/services/immich.nix" modules/services/immich.nix
    cp "$lib_dir/fixtures/owner/modules/services/nginx.nix" modules/services/nginx.nix
    git commit --quiet --all -m "Phases 2 and 3: the vhost immich.skylab.local, the Immich module with its user and group"
    ;;
  *) git commit --quiet --all -m "immich: leave the service to the generated module" ;;
esac

# State that already exists before Immich is moved: on the root filesystem, not on MEDIAS.
zipang_uid=$(id -u zipang)
zipang_gid=$(id -g zipang)
medias_init=$(mktemp -d /run/medias-init.XXXXXX)
mount -t btrfs -o subvolid=5 "$loop_device" "$medias_init"
btrfs -q subvolume create "$medias_init/@pictures"
if [[ $owner_state == phase1 ]]; then
  # Phase 1's manual step, as the plan writes it: sudo btrfs subvolume create /mnt/medias/@immich
  btrfs -q subvolume create "$medias_init/@immich"
fi
chown "$zipang_uid:$zipang_gid" "$medias_init/@pictures"
# Immich ran on SKYLAB before (the owner's work-in-progress module): its system user owns its data.
groupadd --system immich
useradd --system --gid immich --home-dir /var/lib/immich --no-create-home --shell /usr/sbin/nologin immich
python3 "$lib_dir/make-sample-data.py" /var/lib/immich "$medias_init/@pictures/Digicam" "$zipang_uid" "$zipang_gid" \
  "$(id -u immich)" "$(id -g immich)"
umount "$medias_init"
rmdir "$medias_init"
install -d -m 0755 -o "$zipang_uid" -g "$zipang_gid" /home/zipang/Pictures

# Generation 1, as SKYLAB's currently running system.
nixos-rebuild switch "${rebuild_args[@]}"
if [[ $owner_state == phase1 ]]; then
  # Phase 1's configuration task, committed but not applied yet (the plan: "before applying the next update").
  cp "$lib_dir/fixtures/owner/modules/system/storage.nix" modules/system/storage.nix
  git commit --quiet --all -m "storage: /var/lib/immich on the subvolume @immich of MEDIAS (not applied yet)"
fi
printf 'sandbox SKYLAB provisioned at %s (%s)\n' "$address" "$loop_device"
