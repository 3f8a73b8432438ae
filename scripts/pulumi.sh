#!/usr/bin/env bash
# `npm run pulumi -- <args>`: the pinned Pulumi CLI with the project's offline environment.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if ! command -v pulumi >/dev/null 2>&1; then
  echo "pulumi CLI not found in $SKYLAB_ROOT/.tools/bin: run \`npm run setup\` first" >&2
  exit 1
fi
cd "$SKYLAB_ROOT"
exec pulumi "$@"
