#!/usr/bin/env bash
# A refresh's read-only look at one file the program owns: its sha256 (null when absent) and, when it is
# small and has no control characters JSON cannot carry here, its text, by the host look's rules
# (lib/remote/host-facts.sh), as one JSON document. Changes nothing on the host.
# Inputs: REPO RELPATH
set -euo pipefail
export LC_ALL=C

file="$REPO/$RELPATH"
if [ ! -f "$file" ]; then
  printf '{"sha256":null}\n'
  exit 0
fi
printf '{"sha256":"%s"' "$(sha256sum <"$file" | cut -d' ' -f1)"
if [ "$(stat -c %s "$file")" -le 16384 ] && ! tr -d '\n\t\r' <"$file" | grep -q '[[:cntrl:]]'; then
  text=$(cat "$file"; printf x)
  printf ',"text":%s' "$(json_string "${text%x}")"
fi
printf '}\n'
