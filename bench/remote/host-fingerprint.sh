#!/usr/bin/env bash
# Read-only: everything on a sandbox that a converge could change, as text. Equal before and after a run
# means that run changed nothing on the host (scenario 2 of bench/run.ts).
# Inputs: REPO STATE_DIR
set -euo pipefail
export LC_ALL=C

echo "head $(git -C "$REPO" rev-parse HEAD)"
echo "status $(git -C "$REPO" status --porcelain | sha256sum | cut -c1-16)"
git -C "$REPO" ls-files -s | sha256sum | sed 's/^/index /'
find "$REPO" -path "$REPO/.git" -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum
echo "current-system $(readlink -f /run/current-system 2>/dev/null || echo none)"
echo "profile $(readlink -f /nix/var/nix/profiles/system 2>/dev/null || echo none)"
echo "nixos-rebuild invocations $(wc -l </var/log/nixos-rebuild-standin.log 2>/dev/null || echo 0)"
findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | sort
# Writes made before this point (Immich's own, after the converge) are committed first: a subvolume's
# generation moves at its transaction's commit, which could otherwise fall between the two fingerprints.
btrfs filesystem sync /mnt/medias 2>/dev/null || true
btrfs subvolume list /mnt/medias 2>/dev/null | sort || true
for subvolume in /mnt/medias/@*; do [ -d "$subvolume" ] && echo "$subvolume $(btrfs property get "$subvolume" compression 2>/dev/null)"; done
[ -d "$STATE_DIR" ] && find "$STATE_DIR" -printf '%p %s %T@\n' | sort
[ -d /run/secrets ] && find /run/secrets -printf '%p %s %m %U:%G\n' | sort
exit 0
