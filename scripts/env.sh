# Sourced by the project's scripts: the offline Pulumi environment, all of it inside the repository.
# shellcheck shell=bash
SKYLAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SKYLAB_ROOT
export PATH="$SKYLAB_ROOT/.tools/bin:$PATH"
export PULUMI_HOME="$SKYLAB_ROOT/.pulumi/home"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$SKYLAB_ROOT/.pulumi/state}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export SOPS_DISABLE_VERSION_CHECK=true
# Local stacks are encrypted with a passphrase: from the environment, else from the ignored file that
# `npm run setup` creates once.
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE_FILE="$SKYLAB_ROOT/.pulumi/passphrase"
fi
