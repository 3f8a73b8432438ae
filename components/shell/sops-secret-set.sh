#!/usr/bin/env bash
# Puts one value into the sops-encrypted file with the real sops on the host, reading the value from
# standard input (never argv or environment), or generating it here when GENERATE is "true" and the
# key is absent. The plaintext exists only in this process's memory and in sops' pipe.
# Inputs: REPO SOPS_FILE KEY_PATH AGE_KEY_FILE GENERATE STATE_DIR
set -euo pipefail
export LC_ALL=C SOPS_DISABLE_VERSION_CHECK=true
export SOPS_AGE_KEY_FILE=$AGE_KEY_FILE

umask 077

file="$REPO/$SOPS_FILE"
[ -f "$file" ] || { echo "$file does not exist: create it with sops (see .sops.yaml) first" >&2; exit 1; }
[ -r "$AGE_KEY_FILE" ] || { echo "no age identity at $AGE_KEY_FILE: set \`secrets.ageKeyFile\`" >&2; exit 1; }
command -v sops >/dev/null || { echo "sops is not installed on this host: add pkgs.sops to environment.systemPackages" >&2; exit 1; }

index=$(sops_index "$KEY_PATH")

if current=$(sops decrypt --extract "$index" "$file" 2>/dev/null); then present=true; else present=false; current=""; fi
if [ "$GENERATE" = true ]; then
  if $present; then
    echo "no change: $KEY_PATH is in $SOPS_FILE (generated earlier or set by hand)"
    exit 0
  fi
  value=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
else
  value=$(cat)
  [ -n "$value" ] || { echo "empty value for $KEY_PATH on standard input" >&2; exit 1; }
  if $present && [ "$current" = "$value" ]; then
    echo "no change: $KEY_PATH already has the configured value"
    git_add -- "$SOPS_FILE"
    exit 0
  fi
fi
json=${value//\\/\\\\}
json=${json//\"/\\\"}
if ! $present; then
  mkdir -p "$STATE_DIR"
  echo "$KEY_PATH" >>"$STATE_DIR/sops-keys-added"
  # The encrypted file as it was, so that removing the key can give back the very same bytes.
  [ -f "$STATE_DIR/sops-original.yaml" ] || cp -p "$file" "$STATE_DIR/sops-original.yaml"
fi
printf '"%s"' "$json" | sops set --value-stdin "$file" "$index"
unset value json current
# Check the result with a decrypt, not sops' exit code alone.
sops decrypt --extract "$index" "$file" >/dev/null
git_add -- "$SOPS_FILE"
if $present; then echo "rotated $KEY_PATH in $SOPS_FILE"; else echo "added $KEY_PATH to $SOPS_FILE"; fi
