#!/usr/bin/env bash
# `npm run setup`: everything a fresh machine needs for `npm test`, idempotently. A second run reuses
# what is there and finishes in seconds.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SKYLAB_ROOT"

PULUMI_VERSION=3.248.0
SOPS_VERSION=3.13.2
DEBIAN_PACKAGES=(openssh-server openssh-client btrfs-progs age nix-bin git iproute2 sudo rsync jq util-linux systemd-container
  attr acl python3 procps psmisc nginx-light curl postgresql)

phase() { printf '\n==> %s\n' "$*"; }
sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

phase "Debian packages"
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "installing Debian packages needs root (or: sudo apt-get install ${missing[*]})" >&2; exit 1; fi
  apt-get update -qq
  # Packages with a daemon (PostgreSQL, nginx, sshd) are for the sandbox: none is started on this machine
  # (policy-rc.d answers "not allowed" to the packages' start requests while they install).
  policy=/usr/sbin/policy-rc.d
  added_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && added_policy=true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    rc=$?; if $added_policy; then rm -f "$policy"; fi; exit "$rc"; }
  if $added_policy; then rm -f "$policy"; fi
else
  echo "all ${#DEBIAN_PACKAGES[@]} present"
fi

# npm ci only when the lockfile changed since the last install.
npm_install() {
  local dir=$1 stamp="$1/node_modules/.skylab-lockfile-sha256"
  local want; want=$(sha "$dir/package-lock.json")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$dir: node_modules matches package-lock.json"
  else
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}
phase "Node dependencies (npm ci)"
npm_install "$SKYLAB_ROOT"
npm_install "$SKYLAB_ROOT/policy"

# Go tools are built from the Go module proxy, pinned by toolchain/go/*/go.sum, and rebuilt only when
# their pins change.
mkdir -p .tools/bin .tools/stamps
go_build() {
  local name=$1 module_dir=$2 package=$3 ldflags=$4
  local stamp=".tools/stamps/$name" want
  want=$(sha "$module_dir/go.mod" "$module_dir/go.sum" <(echo "$package $ldflags"))
  if [ -x ".tools/bin/$name" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$name: up to date"
    return
  fi
  echo "$name: building $package (several minutes on 2 cores the first time; the module cache makes later builds fast)"
  local started=$SECONDS
  (cd "$module_dir" && GOFLAGS=-mod=readonly go build -trimpath -o "$SKYLAB_ROOT/.tools/bin/$name" -ldflags "-s -w $ldflags" "$package") &
  local build=$!
  while kill -0 "$build" 2>/dev/null; do
    sleep 20
    kill -0 "$build" 2>/dev/null && echo "  ... $name still building ($((SECONDS - started))s)"
  done
  wait "$build"
  echo "$want" >"$stamp"
  echo "$name: built in $((SECONDS - started))s"
}
phase "Pulumi CLI v$PULUMI_VERSION and sops v$SOPS_VERSION from the Go module proxy"
go_build pulumi toolchain/go/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
go_build sops toolchain/go/sops github.com/getsops/sops/v3/cmd/sops ""

phase "Plugins the engine starts (language host, dynamic provider, policy analyzer)"
# Shims are rewritten on every run: they only point into this checkout.
install -m 0755 toolchain/bin/pulumi-language-nodejs .tools/bin/pulumi-language-nodejs
install -m 0755 toolchain/bin/pulumi-resource-pulumi-nodejs .tools/bin/pulumi-resource-pulumi-nodejs
echo "installed pulumi-language-nodejs and pulumi-resource-pulumi-nodejs into .tools/bin"

phase "TypeScript compile cache (toolchain/compile-cache.js)"
# Ahead of time, so the first preview starts as fast as the next. Not needed for correctness: entries are
# keyed by each file's text, so an edited file is transpiled again when it is next loaded. Entries older
# than 30 days go first (the current ones are written again right after).
cache_dir=${SKYLAB_COMPILE_CACHE:-node_modules/.cache/skylab-ts}
[ -d "$cache_dir" ] && find "$cache_dir" -type f -mtime +30 -delete
node toolchain/compile-cache.js --warm index.ts components lib providers

phase "Local Pulumi backend"
mkdir -p .pulumi/home .pulumi/state
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ ! -s .pulumi/passphrase ]; then
  (umask 077 && head -c 24 /dev/urandom | base64 >.pulumi/passphrase)
  echo "created .pulumi/passphrase (local stacks' secrets are encrypted with it; keep it)"
fi
echo "backend: $PULUMI_BACKEND_URL"

phase "Check"
printf 'pulumi %s, sops %s, node %s\n' "$(pulumi version)" "$(sops --version 2>/dev/null | head -1 | awk '{print $2}')" "$(node --version)"
echo "setup complete: run \`npm test\`"
