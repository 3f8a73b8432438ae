#!/usr/bin/env bash
# `npm run demo`: the main job on the embedded default target. Creates the sandbox SKYLAB (a stand-in
# host on this machine: real SSH, BTRFS, sops; NixOS itself is emulated), aims stack sandbox-demo at it,
# previews, converges with `pulumi up`, and prints the verification report.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SKYLAB_ROOT"
name=${1:-demo}
stack="sandbox-$name"

echo "==> sandbox SKYLAB '$name'"
bash sandbox/sandbox.sh up --name "$name" >/dev/null
echo "==> stack $stack (and the owner's one-time import of the generated modules)"
npx ts-node --transpile-only scripts/sandbox-stack.ts "$name" "$stack"
echo "==> pulumi preview"
pulumi preview --stack "$stack" --non-interactive
echo "==> pulumi up"
pulumi up --yes --skip-preview --stack "$stack" --non-interactive
echo "==> verification report"
pulumi stack output verification --json --stack "$stack" | npx ts-node --transpile-only scripts/report.ts
cat <<EOT

The sandbox stays up to explore:  npm run sandbox:ssh -- --name $name -- findmnt /var/lib/immich
Undo everything:                  npm run pulumi -- destroy --yes -s $stack && npm run sandbox:down -- --name $name
EOT
