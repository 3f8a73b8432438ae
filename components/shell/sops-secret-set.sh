#!/usr/bin/env bash
# Puts one value into the sops-encrypted file with the real sops on the host, reading the value from
# standard input (never argv or environment), or generating it here when GENERATE is "true" and the
# key is absent. Standard input: the value's sha256, then the value as one JSON string (SopsSecret.ts
# sopsSetInput), which goes to `sops set --value-stdin` as it is; the plaintext is only in sops' pipes.
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
# Not while another stack's apply holds the repo.
wait_for_no_apply

# The sha256 of what the file holds now (sops prints the value's bytes exactly), or nothing.
if current=$(set -o pipefail; sops decrypt --extract "$index" "$file" 2>/dev/null | sha256sum); then
  present=true; current=${current%% *}
else
  present=false; current=""
fi
if [ "$GENERATE" = true ]; then
  if $present; then
    echo "no change: $KEY_PATH is in $SOPS_FILE (generated earlier or set by hand)"
    exit 0
  fi
  # Hex digits only: the JSON string is the value in quotes.
  json="\"$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')\""
else
  IFS= read -r digest || true
  IFS= read -r json || true
  [[ $digest =~ ^[0-9a-f]{64}$ && $json == \"?*\" ]] || { echo "no value for $KEY_PATH on standard input (expected its sha256 and a JSON string)" >&2; exit 1; }
  if $present && [ "$current" = "$digest" ]; then
    echo "no change: $KEY_PATH already has the configured value"
    git_add -- "$SOPS_FILE"
    exit 0
  fi
fi
if ! $present; then
  mkdir -p "$STATE_DIR"
  echo "$KEY_PATH" >>"$STATE_DIR/sops-keys-added"
  # The encrypted file as it was, so that removing the key can give back the very same bytes.
  [ -f "$STATE_DIR/sops-original.yaml" ] || cp -p "$file" "$STATE_DIR/sops-original.yaml"
fi
printf '%s' "$json" | sops set --value-stdin "$file" "$index"
unset json
# Check the result with a decrypt, not sops' exit code alone: the file holds exactly the value sent.
written=$(set -o pipefail; sops decrypt --extract "$index" "$file" | sha256sum)
if [ "$GENERATE" != true ] && [ "${written%% *}" != "$digest" ]; then
  echo "sops wrote $KEY_PATH, but $SOPS_FILE does not hold the value sent (its sha256 differs)" >&2
  exit 1
fi
git_add -- "$SOPS_FILE"
if $present; then echo "rotated $KEY_PATH in $SOPS_FILE"; else echo "added $KEY_PATH to $SOPS_FILE"; fi
