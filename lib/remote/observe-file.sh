#!/usr/bin/env bash
# A refresh's read-only look at one file the program owns: its sha256 (null when absent) and, when it is
# small and has no control characters JSON cannot carry here, its text, by the host look's rules
# (lib/remote/lib.sh: file_sha256_json, owned_file_text_json), as one JSON document. Changes nothing on the host.
# Inputs: REPO RELPATH
set -euo pipefail
export LC_ALL=C

file="$REPO/$RELPATH"
printf '{"sha256":%s' "$(file_sha256_json "$file")"
if text=$(owned_file_text_json "$file"); then printf ',"text":%s' "$text"; fi
printf '}\n'
