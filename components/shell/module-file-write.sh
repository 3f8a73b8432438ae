#!/usr/bin/env bash
# Writes one file that the program owns whole into the NixOS config repository, atomically, and stages
# it (flakes only see files git knows). A file a person wrote at that path is kept aside, not overwritten.
# Inputs: REPO RELPATH MARKER (the generated-file header that identifies our files), and CONTENT: the
# module text, which the provider renders from the typed body just before this runs
set -euo pipefail
export LC_ALL=C


if ! git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  echo "$REPO is not a git repository: \`nixos.configRepo\` must point at the NixOS configuration checkout" >&2
  exit 1
fi
# Not while another stack's apply holds the repo (it would build this file as its own).
wait_for_no_apply
file="$REPO/$RELPATH"
mkdir -p "$(dirname "$file")"
if [ -f "$file" ] && [ "$(cat "$file"; echo x)" = "${CONTENT}x" ]; then
  echo "no change: $RELPATH is up to date"
else
  if [ -f "$file" ] && ! head -n1 "$file" | grep -qF "$MARKER"; then
    mv -T "$file" "$file.pre-skylab-immich"
    echo "kept the existing hand-written $RELPATH as $RELPATH.pre-skylab-immich"
  fi
  tmp=$(mktemp "$file.XXXXXX")
  printf '%s' "$CONTENT" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$file"
  echo "wrote $RELPATH ($(sha256sum "$file" | cut -c1-12))"
fi
git_add -- "$RELPATH"
