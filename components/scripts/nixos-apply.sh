#!/usr/bin/env bash
# Applies the generated modules: stage and commit them in the config repo, show the dry-activate plan,
# then start the detached activation job and follow it until it waits for the deployer's confirmation
# (printed as `confirm-token: ...`) or has rolled the host back (exit 1 with what failed).
# Inputs: REPO GENERATED_DIR MODULE_FILES DEFAULT_MODULE OWNED_PATHS MODE CHECKS STATE_DIR
#         CONFIRM_TIMEOUT VERIFY_TIMEOUT ACTIVATION_TIMEOUT MARKER CHECKS_SCRIPT JOB_SCRIPT
#         DATA_SOURCE DATA_KEPT_AT DATA_LABEL DATA_SUBVOLUME DATA_COPY DATA_UNITS (the migrated data
#         path; empty: none)
set -euo pipefail
export LC_ALL=C

die() { printf '%s\n' "$*" >&2; exit 1; }
git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || die "$REPO is not a git repository: check \`nixos.configRepo\`"
cd "$REPO"

REBUILD_ARGS=()
if [ -f "$REPO/flake.nix" ]; then
  REBUILD_ARGS+=(--flake "$REPO")
elif [ "$REPO" != /etc/nixos ]; then
  REBUILD_ARGS+=(-I "nixos-config=$REPO/configuration.nix")
fi

mapfile -t owned < <(printf '%s\n' "$OWNED_PATHS" | sed '/^$/d')
excludes=()
for path in "${owned[@]}"; do excludes+=(":(exclude)$path"); done
foreign=$(git status --porcelain -- . "${excludes[@]}")
if [ -n "$foreign" ]; then
  die "$REPO has uncommitted changes outside the files skylab-immich owns:
$foreign
commit or stash them first (a rollback returns the repo to its previous commit, and must not take your work with it)"
fi

# The generated folder holds exactly the listed modules plus default.nix, which imports them.
generated="$REPO/$GENERATED_DIR"
mkdir -p "$generated"
for file in "$generated"/*.nix; do
  [ -e "$file" ] || continue
  relative=${file#"$REPO/"}
  [ "$(basename "$file")" = default.nix ] && continue
  if ! grep -qxF -- "$relative" <<<"$MODULE_FILES" && head -n1 "$file" | grep -qF -- "$MARKER"; then
    rm -f "$file"
    echo "removed $relative: no component declares it any more"
  fi
done
if [ "$(cat "$generated/default.nix" 2>/dev/null; echo x)" != "${DEFAULT_MODULE}x" ]; then
  printf '%s' "$DEFAULT_MODULE" >"$generated/default.nix.tmp"
  mv -f "$generated/default.nix.tmp" "$generated/default.nix"
fi

prev_commit=$(git rev-parse HEAD)
git add -A -- "${owned[@]}"
if git diff --cached --quiet; then
  echo "config repo: nothing new to commit (HEAD ${prev_commit:0:12})"
else
  identity=()
  git config user.email >/dev/null || identity=(-c user.name=skylab-immich -c user.email=skylab-immich@localhost)
  git "${identity[@]}" commit -q -m "skylab-immich: converge generated modules" -- "${owned[@]}"
  echo "config repo: committed $(git rev-parse --short=12 HEAD) (previous ${prev_commit:0:12})"
fi
prev_system=$(readlink -f /run/current-system 2>/dev/null || true)
echo "active system before: ${prev_system:-none}"

echo "plan (nixos-rebuild dry-activate):"
if ! plan=$(nixos-rebuild dry-activate "${REBUILD_ARGS[@]}" 2>&1); then
  printf '%s\n' "$plan" | sed 's/^/  /' >&2
  git reset -q --hard "$prev_commit"
  die "the configuration does not evaluate (see above); $REPO is back on commit ${prev_commit:0:12} and the host is unchanged"
fi
printf '%s\n' "$plan" | sed 's/^/  /'
printf '%s\n' "$plan" | sed 's/^/progress: plan: /' >&2

if [ "$MODE" = dry-activate ]; then
  echo "mode dry-activate: nothing activated"
  exit 0
fi
if [ "$MODE" = boot ]; then
  nixos-rebuild boot "${REBUILD_ARGS[@]}"
  echo "mode boot: the new configuration is the boot default; it becomes active at the next reboot"
  exit 0
fi

run_dir="$STATE_DIR/apply"
mkdir -p "$run_dir"
chmod 0700 "$STATE_DIR" "$run_dir"
token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
job="$run_dir/job-$token.sh"
{
  echo '#!/usr/bin/env bash'
  # A transient unit does not inherit this session's environment; on NixOS its PATH is a minimal one
  # without nixos-rebuild, git or findmnt. The job gets this session's PATH, NixOS' system paths first.
  JOB_PATH="/run/wrappers/bin:/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:$PATH"
  RUN_DIR=$run_dir TOKEN=$token PREV_COMMIT=$prev_commit PREV_SYSTEM=$prev_system
  MIGRATION_MARKER=$STATE_DIR/migration.done
  declare -p REPO MODE CHECKS CONFIRM_TIMEOUT VERIFY_TIMEOUT ACTIVATION_TIMEOUT RUN_DIR TOKEN PREV_COMMIT PREV_SYSTEM \
    REBUILD_ARGS JOB_PATH DATA_SOURCE DATA_KEPT_AT DATA_LABEL DATA_SUBVOLUME DATA_COPY DATA_UNITS MIGRATION_MARKER \
    RSYNC_MIRROR
  declare -f medias_device
  printf '%s\n' "$CHECKS_SCRIPT" "$JOB_SCRIPT"
} >"$job"
echo starting >"$run_dir/status-$token"
: >"$run_dir/log-$token"
job_unit="skylab-immich-apply-$token.service"
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  systemd-run --quiet --collect --unit "$job_unit" "$(command -v bash)" "$job"
  echo "activation job $token started as transient unit $job_unit (detached: it finishes, or rolls back, even if this connection drops)"
else
  setsid -f bash "$job" </dev/null >/dev/null 2>&1
  job_unit=""
  echo "activation job $token started (detached: it finishes, or rolls back, even if this connection drops)"
fi

# Is the job still running? Under systemd its unit says so; a job that died (killed, out of memory)
# before it wrote a final status would otherwise be waited for forever.
job_alive() {
  if [ -n "$job_unit" ]; then
    case $(systemctl is-active "$job_unit" 2>/dev/null) in active|activating|deactivating|reloading) return 0 ;; *) return 1 ;; esac
  fi
  pgrep -f -- "$job" >/dev/null 2>&1
}

# Follow the job's log until it waits for confirmation or has ended, within a deadline: activation,
# verification and the rollback each have their own, plus a margin.
follow_deadline=$((SECONDS + ACTIVATION_TIMEOUT + VERIFY_TIMEOUT + ACTIVATION_TIMEOUT + 60))
shown=0
while :; do
  status=$(cat "$run_dir/status-$token")
  total=$(wc -l <"$run_dir/log-$token")
  if [ "$total" -gt "$shown" ]; then
    tail -n +"$((shown + 1))" "$run_dir/log-$token" | head -n "$((total - shown))" | while IFS= read -r line; do
      printf '%s\n' "$line"
      printf 'progress: %s\n' "$line" >&2
    done
    shown=$total
  fi
  case $status in
    awaiting-confirmation) echo "confirm-token: $token"; exit 0 ;;
    rolled-back|rollback-failed|done) break ;;
  esac
  if ! job_alive; then
    status=$(cat "$run_dir/status-$token")
    case $status in awaiting-confirmation|rolled-back|rollback-failed|done) continue ;; esac
    echo "the activation job died while $status (its unit ${job_unit:-process} is gone): rolling back from this session" >&2
    bash "$job" --rollback "the activation job died while $status (unit ${job_unit:-none} killed?)" || true
    status=$(cat "$run_dir/status-$token")
    break
  fi
  if [ "$SECONDS" -ge "$follow_deadline" ]; then
    die "the activation job $token (${job_unit:-detached}) has not finished after $((ACTIVATION_TIMEOUT + VERIFY_TIMEOUT + ACTIVATION_TIMEOUT + 60))s (\`nixos.activationTimeoutSeconds\` and \`nixos.verifyTimeoutSeconds\`); it is still $status: see $run_dir/log-$token on the host"
  fi
  sleep 0.2
done
tail -n +"$((shown + 1))" "$run_dir/log-$token" >&2 || true
die "$(cat "$run_dir/result-$token" 2>/dev/null || echo "activation job ended with status $status")"
