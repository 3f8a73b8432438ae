#!/usr/bin/env bash
# `npm test`: type checks, shell syntax, then every test suite (unit, policy, sandbox, end to end) in one
# jest run. End-to-end suites create their own sandbox hosts and remove them; any sandbox this run
# created and left behind (a crashed suite) is removed on exit.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SKYLAB_ROOT"

# The idempotent set-up first: on a fresh machine it installs everything, afterwards it takes seconds.
bash scripts/setup.sh

before=$(ls .sandbox 2>/dev/null || true)
cleanup() {
  for name in $(ls .sandbox 2>/dev/null || true); do
    if ! grep -qxF -- "$name" <<<"$before"; then
      echo "removing sandbox $name left by a test"
      bash sandbox/sandbox.sh down --name "$name" >/dev/null 2>&1 || true
    fi
  done
}
trap cleanup EXIT

echo "==> type check (program, tests, policy pack, bench)"
npx tsc --noEmit -p .
npx tsc --noEmit -p policy
npx tsc --noEmit -p bench

echo "==> shell syntax"
for script in components/shell/*.sh components/units/*.sh lib/remote/*.sh scripts/*.sh sandbox/*.sh sandbox/lib/*.sh sandbox/immich-standin/*.sh bench/baseline/*.sh bench/remote/*.sh; do bash -n "$script"; done

echo "==> tests"
npx jest --runInBand "$@"
