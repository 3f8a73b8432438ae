#!/usr/bin/env bash
# Removes the key from the sops file if the program added it (a key a person put there stays), and
# commits that change.
# Inputs: REPO SOPS_FILE KEY_PATH AGE_KEY_FILE STATE_DIR
set -euo pipefail
export LC_ALL=C SOPS_DISABLE_VERSION_CHECK=true
export SOPS_AGE_KEY_FILE=$AGE_KEY_FILE


if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then wait_for_no_apply; fi
file="$REPO/$SOPS_FILE"
record="$STATE_DIR/sops-keys-added"
if [ ! -f "$file" ] || [ ! -f "$record" ] || ! grep -qxF -- "$KEY_PATH" "$record"; then
  echo "kept: $KEY_PATH in $SOPS_FILE was not added by skylab-immich"
  exit 0
fi
index=$(sops_index "$KEY_PATH")
IFS=/ read -r -a parts <<<"$KEY_PATH"
if sops decrypt --extract "$index" "$file" >/dev/null 2>&1; then
  sops unset "$file" "$index"
  echo "removed $KEY_PATH from $SOPS_FILE"
  # Parents the key's removal left empty (immich: {}) go too.
  for ((depth = ${#parts[@]} - 1; depth > 0; depth--)); do
    parent=$(sops_index "$KEY_PATH" "$depth")
    [ "$(sops decrypt --extract "$parent" "$file" 2>/dev/null)" = "{}" ] || break
    sops unset "$file" "$parent"
  done
fi
grep -vxF -- "$KEY_PATH" "$record" >"$record.tmp" || true
mv -f "$record.tmp" "$record"
# sops re-encrypts on every change: when the content is back to what it was, put back the original bytes.
original="$STATE_DIR/sops-original.yaml"
if [ ! -s "$record" ] && [ -f "$original" ]; then
  if [ "$(sops decrypt "$file" | sha256sum)" = "$(sops decrypt --input-type yaml --output-type yaml "$original" | sha256sum)" ]; then
    cp -p "$original" "$file"
    echo "restored the original bytes of $SOPS_FILE"
  fi
  rm -f "$original"
fi
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  git_add -- "$SOPS_FILE"
  if ! git -C "$REPO" diff --cached --quiet -- "$SOPS_FILE"; then
    git_commit -q -m "skylab-immich: remove $KEY_PATH" -- "$SOPS_FILE"
  fi
fi
