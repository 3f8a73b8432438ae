#!/usr/bin/env bash
# Destroy: the generated modules go (default.nix stays with no imports, so a configuration that still
# imports the folder evaluates), the change is committed, and the host switches to a configuration
# without them, which removes their mounts.
# Inputs: REPO GENERATED_DIR EMPTY_MODULE OWNED_PATHS MARKER
set -euo pipefail
export LC_ALL=C

if ! git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  echo "no change: $REPO is not a git repository"
  exit 0
fi
cd "$REPO"
REBUILD_ARGS=()
if [ -f "$REPO/flake.nix" ]; then REBUILD_ARGS+=(--flake "$REPO"); elif [ "$REPO" != /etc/nixos ]; then REBUILD_ARGS+=(-I "nixos-config=$REPO/configuration.nix"); fi
generated="$REPO/$GENERATED_DIR"
if [ -d "$generated" ]; then
  for file in "$generated"/*.nix; do
    [ -e "$file" ] || continue
    if head -n1 "$file" | grep -qF -- "$MARKER" && [ "$(basename "$file")" != default.nix ]; then rm -f "$file"; echo "removed ${file#"$REPO/"}"; fi
  done
  printf '%s' "$EMPTY_MODULE" >"$generated/default.nix"
fi
mapfile -t owned < <(printf '%s\n' "$OWNED_PATHS" | sed '/^$/d')
git add -A -- "${owned[@]}"
if ! git diff --cached --quiet; then
  identity=()
  git config user.email >/dev/null || identity=(-c user.name=skylab-immich -c user.email=skylab-immich@localhost)
  git "${identity[@]}" commit -q -m "skylab-immich: remove generated modules" -- "${owned[@]}"
  echo "config repo: committed the removal"
fi
nixos-rebuild switch "${REBUILD_ARGS[@]}"
