#!/usr/bin/env bash
# Removes a file the program owns from the config repository and brings back the hand-written file it
# replaced, if any. Files without our header are never removed.
# Inputs: REPO RELPATH MARKER
set -euo pipefail
export LC_ALL=C


if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then wait_for_no_apply; fi
file="$REPO/$RELPATH"
if [ -f "$file" ] && head -n1 "$file" | grep -qF "$MARKER"; then
  rm -f "$file"
  echo "removed $RELPATH"
elif [ -e "$file" ]; then
  echo "kept $RELPATH: it was not written by skylab-immich"
else
  echo "no change: $RELPATH is absent"
fi
if [ -f "$file.pre-skylab-immich" ] && [ ! -e "$file" ]; then
  mv -T "$file.pre-skylab-immich" "$file"
  echo "restored the hand-written $RELPATH"
fi
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  git_add -A -- "$RELPATH" 2>/dev/null || true
fi
