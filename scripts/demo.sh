#!/usr/bin/env bash
# `npm run demo`: the main job on the embedded default target. Creates the sandbox SKYLAB (a stand-in
# host on this machine: real SSH, BTRFS, sops; NixOS' module system real, its activation emulated) in the
# owner's starting state (the plan's Phases 2 and 3 done by hand, Immich running on /var/lib/immich), aims
# stack sandbox-demo at it, and runs what README "Point it at the real SKYLAB" tells the owner to run:
# preview and up with the policy pack. Preview lists the owner's definitions it adopts; then the
# verification report.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SKYLAB_ROOT"
name=${1:-demo}
stack="sandbox-$name"

# The idempotent set-up first: on a fresh machine it installs everything, afterwards it takes seconds.
bash scripts/setup.sh

echo "==> sandbox SKYLAB '$name' (the owner's starting state: Phases 2 and 3 of the plan done by hand)"
bash sandbox/sandbox.sh up --name "$name" --owner phase3 >/dev/null
# No Immich can run here: the External Library step talks to the stand-in Immich API in the sandbox
# (it checks every request against Immich's API as sandbox/immich-standin/contract.ts writes it down),
# with an API key made for this run.
api_key=$(head -c 24 /dev/urandom | base64)
# immich-server.service (the stand-in) is started by the `up`; it reads the key's hash from here.
printf %s "$api_key" | bash sandbox/immich-standin/start.sh "$name" --configure-only >/dev/null
echo "==> stack $stack (and the owner's one-time import of the generated modules)"
npx ts-node --transpile-only scripts/sandbox-stack.ts "$name" "$stack"
printf %s "$api_key" | pulumi config set --secret immichApiKey --stack "$stack" --non-interactive
pulumi config set --path library.enabled true --stack "$stack" --non-interactive
echo "==> pulumi preview --policy-pack policy (what it adopts of the owner's modules is under Diagnostics)"
pulumi preview --stack "$stack" --non-interactive --policy-pack policy
echo "==> pulumi up --policy-pack policy"
pulumi up --yes --skip-preview --stack "$stack" --non-interactive --policy-pack policy
echo "==> verification report"
pulumi stack output verification --json --stack "$stack" | npx ts-node --transpile-only scripts/report.ts
echo
echo "External Library (against the stand-in Immich API): $(pulumi stack output indexingAssetsFound --stack "$stack") assets" \
  "indexed in $(pulumi stack output indexingSeconds --stack "$stack") s"
cat <<EOT

The sandbox stays up to explore:  npm run sandbox:ssh -- --name $name -- findmnt /var/lib/immich
Undo everything:                  npm run pulumi -- destroy --yes -s $stack && npm run sandbox:down -- --name $name
EOT
