#!/usr/bin/env bash
# The apply program: one host-side program with subcommands, as deploy-rs' `activate` is.
#   main start    stage and commit the generated modules, show the dry-activate plan, start the detached
#                 activation job and follow it until it waits for the deployer's confirmation (printed as
#                 `confirm-token: ...`) or has rolled the host back (exit 1 with what failed)
#   main remove   the same for destroy: the generated modules go (default.nix stays, importing nothing),
#                 then the same verified, confirmed activation with rollback
#   main job      the activation job itself (start writes it, with these values and functions, to a file
#                 that a transient systemd unit runs): activate, verify, wait for the confirmation, make
#                 it the boot default, or roll back
#   main confirm  over a NEW connection: the deployer can still reach the host; then wait for the job
# Values: REPO GENERATED_DIR MODULE_FILES DEFAULT_MODULE EMPTY_MODULE OWNED_PATHS MARKER STATE_DIR
#         ACTIVATE BOOT_DEFAULT (what the rebuild mode means, decided in lib/rebuildMode.ts)
#         CHECK_KIND CHECK_TARGET CHECK_ARG CHECK_ARG2 (arrays: the verification checks)
#         CONFIRM_TIMEOUT VERIFY_TIMEOUT ACTIVATION_TIMEOUT
#         MODULE_SHA256S (each module file's sha256 as this stack wrote it) STACK LOCK_WAIT; DEPLOYER (user@machine
#         of the run, given at run time)
#         DATA_SOURCE DATA_KEPT_AT DATA_LABEL DATA_SUBVOLUME DATA_COPY DATA_UNITS (the migrated data path;
#         empty: none)
#         SNAPSHOT_LABEL SNAPSHOT_SUBVOLUME SNAPSHOT_FOLDER SNAPSHOT_KEEP SNAPSHOT_MOUNT_POINT SNAPSHOT_UNITS
#         (array) (snapshots of the data subvolume before each activation; SNAPSHOT_FOLDER empty: none);
#         confirm also gets CONFIRM_TOKEN
set -euo pipefail
export LC_ALL=C

die() { printf '%s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------------------------------ the apply lock

# One apply per host (per config repo: lib.sh apply_lock_dir), from before its commit to the end of its job
# (confirmed and made the boot default, or rolled back): another stack or deployer waits for it (at most
# LOCK_WAIT seconds, with progress) or is refused with who holds it; the job releases it when it ends.
acquire_apply_lock() {
  local deadline=$((SECONDS + LOCK_WAIT)) holder shown=""
  APPLY_LOCK=$(apply_lock_dir)
  exec 7>"$APPLY_LOCK.writers"
  while :; do
    # Exclusive for a moment: no writer is half-way through the repo when the lock is taken.
    flock -x 7
    if mkdir "$APPLY_LOCK" 2>/dev/null; then break; fi
    if apply_lock_stale "$APPLY_LOCK"; then
      echo "the host's apply lock was left by an apply that ended without releasing it ($(cat "$APPLY_LOCK/holder" 2>/dev/null)): taken over"
      rm -rf "$APPLY_LOCK"
      flock -u 7
      continue
    fi
    flock -u 7
    holder=$(cat "$APPLY_LOCK/holder" 2>/dev/null || echo "an apply that is starting")
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "another apply holds this host: $holder. Nothing was changed: run up again when it has ended (this one waited ${LOCK_WAIT}s: \`nixos.lockWaitSeconds\`)"
    fi
    if [ "$holder" != "$shown" ]; then
      echo "waiting for the apply that holds this host: $holder (up to ${LOCK_WAIT}s: \`nixos.lockWaitSeconds\`)"
      echo "progress: waiting for the apply of $holder" >&2
      shown=$holder
    fi
    sleep 0.5
  done
  echo $$ >"$APPLY_LOCK/pid"
  printf 'stack %s from %s, since %s, PID %s\n' "$STACK" "${DEPLOYER:-an unknown deployer}" "$(date -u +%FT%TZ)" "$$" >"$APPLY_LOCK/holder"
  flock -u 7
  exec 7>&-
  trap release_unhanded_lock EXIT
}

# This session's lock, unless its job has taken it over.
release_unhanded_lock() {
  if [ -d "${APPLY_LOCK:-}" ] && [ ! -f "$APPLY_LOCK/status" ] && [ "$(cat "$APPLY_LOCK/pid" 2>/dev/null)" = "$$" ]; then
    rm -rf "$APPLY_LOCK"
  fi
}

# The job's end: the lock goes, if it is still this job's.
release_job_lock() {
  if [ "$(cat "$APPLY_LOCK/status" 2>/dev/null)" = "$RUN_DIR/status-$TOKEN" ]; then rm -rf "$APPLY_LOCK"; fi
}

# The files this stack wrote are the ones on the host: another deployer (another stack on this host) may have
# written its own since, and this apply must not commit, activate and report those as its own.
refuse_foreign_modules() {
  local files=() digests=() i have
  mapfile -t files < <(printf '%s\n' "$MODULE_FILES" | sed '/^$/d')
  mapfile -t digests < <(printf '%s\n' "$MODULE_SHA256S" | sed '/^$/d')
  for i in "${!files[@]}"; do
    have=$(sha256sum <"$REPO/${files[$i]}" 2>/dev/null | cut -d' ' -f1 || true)
    if [ "$have" != "${digests[$i]:-}" ]; then
      die "${files[$i]} on the host is not what this stack wrote (another deployer or stack wrote its own since); nothing was committed or activated: run up again (it writes this stack's modules again)"
    fi
  done
}

# ------------------------------------------------------------------------------------------ start, remove

refuse_foreign_changes() {
  local path foreign excludes=()
  for path in "${OWNED[@]}"; do excludes+=(":(exclude)$path"); done
  foreign=$(git --no-optional-locks status --porcelain -- . "${excludes[@]}")
  if [ -n "$foreign" ]; then
    die "$REPO has uncommitted changes outside the files skylab-immich owns:
$foreign
commit or stash them first (a rollback returns the repo to its previous commit, and must not take your work with it)"
  fi
}

# The generated folder holds exactly the listed modules plus default.nix ($1), which imports them.
write_generated_folder() {
  local default_module=$1 modules=$2 generated="$REPO/$GENERATED_DIR" file relative
  mkdir -p "$generated"
  for file in "$generated"/*.nix; do
    [ -e "$file" ] || continue
    relative=${file#"$REPO/"}
    [ "$(basename "$file")" = default.nix ] && continue
    if ! grep -qxF -- "$relative" <<<"$modules" && head -n1 "$file" | grep -qF -- "$MARKER"; then
      rm -f "$file"
      echo "removed $relative: no component declares it any more"
    fi
  done
  if [ "$(cat "$generated/default.nix" 2>/dev/null; echo x)" != "${default_module}x" ]; then
    printf '%s' "$default_module" >"$generated/default.nix.tmp"
    mv -f "$generated/default.nix.tmp" "$generated/default.nix"
  fi
}

commit_owned() {
  local message=$1
  git_add -A -- "${OWNED[@]}"
  if git diff --cached --quiet; then
    echo "config repo: nothing new to commit (HEAD ${PREV_COMMIT:0:12})"
  else
    git_commit -q -m "$message" -- "${OWNED[@]}"
    echo "config repo: committed $(git rev-parse --short=12 HEAD) (previous ${PREV_COMMIT:0:12})"
  fi
}

# Shows the dry-activate plan; a configuration that does not evaluate puts the repo back and fails.
show_plan() {
  local plan
  echo "plan (nixos-rebuild dry-activate):"
  if ! plan=$(nixos-rebuild dry-activate "${REBUILD_ARGS[@]}" 2>&1); then
    printf '%s\n' "$plan" | sed 's/^/  /' >&2
    git_locked reset -q --hard "$PREV_COMMIT"
    die "the configuration does not evaluate (see above); $REPO is back on commit ${PREV_COMMIT:0:12} and the host is unchanged"
  fi
  printf '%s\n' "$plan" | sed 's/^/  /'
  printf '%s\n' "$plan" | sed 's/^/progress: plan: /' >&2
}

# Writes the job file: this program's values and functions, then `main job`.
write_job() {
  local job=$1
  {
    echo '#!/usr/bin/env bash'
    declare -p REPO CHECK_KIND CHECK_TARGET CHECK_ARG CHECK_ARG2 CONFIRM_TIMEOUT VERIFY_TIMEOUT ACTIVATION_TIMEOUT \
      ACTIVATE BOOT_DEFAULT RUN_DIR TOKEN PREV_COMMIT PREV_SYSTEM REBUILD_ARGS JOB_PATH DATA_SOURCE DATA_KEPT_AT \
      DATA_LABEL DATA_SUBVOLUME DATA_COPY DATA_UNITS MIGRATION_MARKER RSYNC_MIRROR SNAPSHOT_LABEL SNAPSHOT_SUBVOLUME \
      SNAPSHOT_FOLDER SNAPSHOT_KEEP SNAPSHOT_MOUNT_POINT SNAPSHOT_UNITS SNAPSHOT_NAME_PATTERN APPLY_LOCK OWN_COMMIT STATE_DIR
    declare -f
    echo 'main job "$@"'
  } >"$job"
}

# Is the job still running? Under systemd its unit says so; a job that died (killed, out of memory)
# before it wrote a final status would otherwise be waited for forever.
job_alive() {
  if [ -n "$JOB_UNIT" ]; then
    case $(systemctl is-active "$JOB_UNIT" 2>/dev/null) in active|activating|deactivating|reloading) return 0 ;; *) return 1 ;; esac
  fi
  pgrep -f -- "$JOB" >/dev/null 2>&1
}

# Starts the detached job and follows its log until it waits for confirmation or has ended, within a
# deadline: activation, verification and the rollback each have their own, plus a margin.
start_and_follow_job() {
  local status total shown=0 follow_deadline
  RUN_DIR="$STATE_DIR/apply"
  mkdir -p "$RUN_DIR"
  chmod 0700 "$STATE_DIR" "$RUN_DIR"
  TOKEN=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  JOB="$RUN_DIR/job-$TOKEN.sh"
  # A transient unit does not inherit this session's environment; on NixOS its PATH is a minimal one
  # without nixos-rebuild, git or findmnt. The job gets this session's PATH, NixOS' system paths first.
  JOB_PATH="/run/wrappers/bin:/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:$PATH"
  MIGRATION_MARKER=$STATE_DIR/migration.done
  write_job "$JOB"
  echo starting >"$RUN_DIR/status-$TOKEN"
  : >"$RUN_DIR/log-$TOKEN"
  JOB_UNIT="skylab-immich-apply-$TOKEN.service"
  if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
    systemd-run --quiet --collect --unit "$JOB_UNIT" "$(command -v bash)" "$JOB"
    echo "activation job $TOKEN started as transient unit $JOB_UNIT (detached: it finishes, or rolls back, even if this connection drops)"
  else
    setsid -f bash "$JOB" </dev/null >/dev/null 2>&1
    JOB_UNIT=""
    echo "activation job $TOKEN started (detached: it finishes, or rolls back, even if this connection drops)"
  fi
  # From here the job holds the host's apply lock (it releases it when it ends; once it has ended, or its
  # unit is gone, the lock counts as left behind).
  printf '%s\n' "$JOB_UNIT" >"$APPLY_LOCK/unit"
  printf '%s\n' "$RUN_DIR/status-$TOKEN" >"$APPLY_LOCK/status"
  follow_deadline=$((SECONDS + ACTIVATION_TIMEOUT + VERIFY_TIMEOUT + ACTIVATION_TIMEOUT + 60))
  while :; do
    status=$(cat "$RUN_DIR/status-$TOKEN")
    total=$(wc -l <"$RUN_DIR/log-$TOKEN")
    if [ "$total" -gt "$shown" ]; then
      tail -n +"$((shown + 1))" "$RUN_DIR/log-$TOKEN" | head -n "$((total - shown))" | while IFS= read -r line; do
        printf '%s\n' "$line"
        printf 'progress: %s\n' "$line" >&2
      done
      shown=$total
    fi
    case $status in
      awaiting-confirmation) echo "confirm-token: $TOKEN"; exit 0 ;;
      rolled-back|rollback-failed|done) break ;;
    esac
    if ! job_alive; then
      status=$(cat "$RUN_DIR/status-$TOKEN")
      case $status in awaiting-confirmation|rolled-back|rollback-failed|done) continue ;; esac
      echo "the activation job died while $status (its unit ${JOB_UNIT:-process} is gone): rolling back from this session" >&2
      bash "$JOB" --rollback "the activation job died while $status (unit ${JOB_UNIT:-none} killed?)" || true
      status=$(cat "$RUN_DIR/status-$TOKEN")
      break
    fi
    if [ "$SECONDS" -ge "$follow_deadline" ]; then
      die "the activation job $TOKEN (${JOB_UNIT:-detached}) has not finished after $((ACTIVATION_TIMEOUT + VERIFY_TIMEOUT + ACTIVATION_TIMEOUT + 60))s (\`nixos.activationTimeoutSeconds\` and \`nixos.verifyTimeoutSeconds\`); it is still $status: see $RUN_DIR/log-$TOKEN on the host"
    fi
    sleep 0.2
  done
  tail -n +"$((shown + 1))" "$RUN_DIR/log-$TOKEN" >&2 || true
  die "$(cat "$RUN_DIR/result-$TOKEN" 2>/dev/null || echo "activation job ended with status $status")"
}

# start and remove: the same steps from "commit" on, with another folder content and other checks.
converge() {
  local default_module=$1 modules=$2 message=$3
  git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || die "$REPO is not a git repository: check \`nixos.configRepo\`"
  cd "$REPO"
  rebuild_arguments
  mapfile -t OWNED < <(printf '%s\n' "$OWNED_PATHS" | sed '/^$/d')
  acquire_apply_lock
  refuse_foreign_changes
  refuse_foreign_modules
  write_generated_folder "$default_module" "$modules"
  PREV_COMMIT=$(git rev-parse HEAD)
  commit_owned "$message"
  OWN_COMMIT=$(git rev-parse HEAD)
  PREV_SYSTEM=$(readlink -f /run/current-system 2>/dev/null || true)
  echo "active system before: ${PREV_SYSTEM:-none}"
  show_plan
  if [ "$ACTIVATE" = no ]; then
    if [ "$BOOT_DEFAULT" = now ]; then
      nixos-rebuild boot "${REBUILD_ARGS[@]}"
      echo "mode boot: the new configuration is the boot default; it becomes active at the next reboot"
    else
      echo "mode dry-activate: nothing activated"
    fi
    exit 0
  fi
  start_and_follow_job
}

# ------------------------------------------------------------------------------------------------ job

set_status() {
  printf '%s\n' "$1" >"$RUN_DIR/status-$TOKEN.tmp"
  mv -f "$RUN_DIR/status-$TOKEN.tmp" "$RUN_DIR/status-$TOKEN"
  case $1 in done|rolled-back|rollback-failed) release_job_lock ;; esac
}
say() { printf '[%s] %s\n' "$(date -u +%T.%3N)" "$*"; }

# The data path is part of the last good state. The migration copied the data onto the subvolume and
# left the original in place; here, under this job's rollback, Immich stops, what it wrote since the copy
# is synced, and the original goes aside so that the subvolume can be mounted in its place.
cutover_data_path() {
  local unit top device differences
  [ -n "$DATA_SOURCE" ] && [ -f "$MIGRATION_MARKER" ] || return 0
  [ "$(findmnt -rn -o FSROOT --mountpoint "$DATA_SOURCE" 2>/dev/null | tail -n1)" != "/$DATA_SUBVOLUME" ] || return 0
  [ -d "$DATA_SOURCE" ] && [ -n "$(ls -A "$DATA_SOURCE" 2>/dev/null)" ] || return 0
  # Not while a copy runs (a migration whose connection died unseen): it would start Immich again.
  exec 8>"$(dirname "$MIGRATION_MARKER")/migration.lock"
  if ! flock -w 10 8; then
    say "a migration of $DATA_SOURCE is still running (PID $(cat "$(dirname "$MIGRATION_MARKER")/migration.pid" 2>/dev/null || echo unknown))"
    return 1
  fi
  if [ -e "$DATA_KEPT_AT" ]; then
    say "cannot move the original aside: $DATA_KEPT_AT already exists (\`storage.keepOriginalAt\`)"
    return 1
  fi
  if [ -d /run/systemd/system ]; then
    for unit in $DATA_UNITS; do
      if systemctl is-active --quiet "$unit"; then say "stopping $unit for the move"; systemctl stop "$unit" || return 1; fi
    done
  fi
  device=$(medias_device "$DATA_LABEL")
  [ -n "$device" ] || { say "no filesystem labelled $DATA_LABEL"; return 1; }
  top=$(mount_top_level "$device") || return 1
  say "syncing what changed in $DATA_SOURCE since the copy"
  if rsync "${RSYNC_MIRROR[@]}" "$DATA_SOURCE/" "$top/$DATA_SUBVOLUME/" \
    && differences=$(rsync "${RSYNC_MIRROR[@]}" --dry-run --itemize-changes "$DATA_SOURCE/" "$top/$DATA_SUBVOLUME/") \
    && [ -z "$differences" ]; then
    unmount_top_level "$top"
  else
    say "the copy on $DATA_COPY differs from $DATA_SOURCE after the sync: ${differences:-rsync failed}"
    unmount_top_level "$top"
    return 1
  fi
  mv -T "$DATA_SOURCE" "$DATA_KEPT_AT" && mkdir -p "$DATA_SOURCE" || return 1
  say "data path: the original is kept at $DATA_KEPT_AT; $DATA_SOURCE is the mount point of $DATA_COPY"
}

# The rollback's side of the data path: when the previous system does not mount the subvolume, the
# original goes back where that system's Immich expects it, and Immich's units run on it again. The copy
# stays on the subvolume; the next `up` copies again (the migration marker goes, and the host look sees
# the data back).
restore_data_path() {
  local unit
  [ -n "$DATA_SOURCE" ] || return 0
  if findmnt -rn --mountpoint "$DATA_SOURCE" >/dev/null 2>&1; then
    return 0
  fi
  if [ -d "$DATA_KEPT_AT" ] && { [ ! -e "$DATA_SOURCE" ] || [ -z "$(ls -A "$DATA_SOURCE" 2>/dev/null)" ]; }; then
    rmdir "$DATA_SOURCE" 2>/dev/null || true
    mv -T "$DATA_KEPT_AT" "$DATA_SOURCE"
    rm -f "$MIGRATION_MARKER"
    say "data path restored: the original data is back at $DATA_SOURCE (a copy stays on $DATA_COPY)"
    DATA_RESTORED="; the original data is back at $DATA_SOURCE (a copy stays on $DATA_COPY)"
  fi
  if [ -d /run/systemd/system ]; then
    for unit in $DATA_UNITS; do
      if systemctl cat "$unit" >/dev/null 2>&1 && ! systemctl is-active --quiet "$unit"; then
        systemctl start "$unit" && say "started $unit on the restored data path" || say "could not start $unit"
      fi
    done
  fi
}

# The data path as the previous system expects it: mounted by it, or its data in place.
data_path_ok() {
  [ -n "$DATA_SOURCE" ] || return 0
  findmnt -rn --mountpoint "$DATA_SOURCE" >/dev/null 2>&1 && return 0
  [ ! -d "$DATA_KEPT_AT" ] || [ -n "$(ls -A "$DATA_SOURCE" 2>/dev/null)" ]
}

# --------------------------------------------------------------------- snapshots of the data subvolume

# NixOS generations roll back programs, not data: an Immich upgrade migrates its data in place. So before
# the job activates, a read-only snapshot of the data subvolume goes to $SNAPSHOT_FOLDER at the top level
# of the filesystem (outside the mounted subvolume: Immich never sees it), named by the UTC time; of the
# program's snapshots there, the newest $SNAPSHOT_KEEP stay. SNAPSHOT_KEEP=0: none taken, none deleted.
# BTRFS snapshots are atomic: a running Immich's files are caught as a power cut would leave them.
take_snapshot() {
  local device top name stale
  [ -n "$SNAPSHOT_FOLDER" ] && [ "$SNAPSHOT_KEEP" -gt 0 ] || return 0
  device=$(medias_device "$SNAPSHOT_LABEL")
  [ -n "$device" ] || { say "cannot take a snapshot: no filesystem labelled $SNAPSHOT_LABEL"; return 1; }
  top=$(mount_top_level "$device") || return 1
  if ! btrfs subvolume show "$top/$SNAPSHOT_SUBVOLUME" >/dev/null 2>&1 || [ -z "$(ls -A "$top/$SNAPSHOT_SUBVOLUME" 2>/dev/null)" ]; then
    say "no snapshot: subvolume $SNAPSHOT_SUBVOLUME on $SNAPSHOT_LABEL holds no data yet"
    unmount_top_level "$top"
    return 0
  fi
  if ! mkdir -p -m 0700 "$top/$SNAPSHOT_FOLDER"; then
    unmount_top_level "$top"
    return 1
  fi
  name=$(date -u +%Y-%m-%dT%H-%M-%SZ)
  # Two applies within one second: the second waits for the next name.
  while [ -e "$top/$SNAPSHOT_FOLDER/$name" ]; do sleep 0.2; name=$(date -u +%Y-%m-%dT%H-%M-%SZ); done
  if ! btrfs subvolume snapshot -r "$top/$SNAPSHOT_SUBVOLUME" "$top/$SNAPSHOT_FOLDER/$name" >/dev/null; then
    unmount_top_level "$top"
    return 1
  fi
  printf '%s\n' "$SNAPSHOT_FOLDER/$name" >"$RUN_DIR/snapshot-$TOKEN"
  say "snapshot: $SNAPSHOT_SUBVOLUME as it was before this activation is $SNAPSHOT_FOLDER/$name on $SNAPSHOT_LABEL (read-only)"
  # Only the program's own (the name pattern, read-only subvolumes); a failed deletion is said, not fatal.
  list_snapshots "$top/$SNAPSHOT_FOLDER" | head -n -"$SNAPSHOT_KEEP" | while IFS= read -r stale; do
    if btrfs subvolume delete "$top/$SNAPSHOT_FOLDER/$stale" >/dev/null; then
      say "deleted snapshot $SNAPSHOT_FOLDER/$stale (\`storage.snapshots.keep\` is $SNAPSHOT_KEEP)"
    else
      say "could not delete snapshot $SNAPSHOT_FOLDER/$stale"
    fi
  done
  unmount_top_level "$top"
}

# The newest of the program's snapshots as a path at the top level ($SNAPSHOT_FOLDER/NAME), or nothing.
newest_snapshot() {
  local device top newest
  [ -n "$SNAPSHOT_FOLDER" ] || return 0
  device=$(medias_device "$SNAPSHOT_LABEL")
  [ -n "$device" ] || return 0
  top=$(mount_top_level "$device" ro) || return 0
  newest=$(list_snapshots "$top/$SNAPSHOT_FOLDER" | tail -n1)
  unmount_top_level "$top"
  if [ -n "$newest" ]; then printf '%s\n' "$SNAPSHOT_FOLDER/$newest"; fi
}

# The commands that put snapshot $1 back as the data subvolume, one a line, every value quoted so that
# they can be pasted: stop Immich, unmount the data, move the current subvolume aside (kept, never
# deleted), snapshot the snapshot back in its place (writable), mount it again, start Immich.
restore_commands() {
  local snapshot=$1 unit units="" aside
  aside="$SNAPSHOT_SUBVOLUME.before-restore-${snapshot##*/}"
  for unit in "${SNAPSHOT_UNITS[@]}"; do units+=" $(shell_word "$unit")"; done
  printf '    systemctl stop%s\n' "$units"
  printf '    umount %s\n' "$(shell_word "$SNAPSHOT_MOUNT_POINT")"
  printf '    top=$(mktemp -d) && mount -t btrfs -o subvolid=5 %s "$top"\n' "$(shell_word "/dev/disk/by-label/$SNAPSHOT_LABEL")"
  printf '    mv -T "$top"/%s "$top"/%s\n' "$(shell_word "$SNAPSHOT_SUBVOLUME")" "$(shell_word "$aside")"
  printf '    btrfs subvolume snapshot "$top"/%s "$top"/%s\n' "$(shell_word "$snapshot")" "$(shell_word "$SNAPSHOT_SUBVOLUME")"
  printf '    umount "$top" && rmdir "$top"\n'
  printf '    mount %s\n' "$(shell_word "$SNAPSHOT_MOUNT_POINT")"
  printf '    systemctl start%s\n' "$units"
}

# What a rollback message says about Immich's data: the newest snapshot and how to restore from it.
snapshot_note() {
  local snapshot when
  [ -n "$SNAPSHOT_FOLDER" ] || return 0
  if [ -f "$RUN_DIR/snapshot-$TOKEN" ]; then
    snapshot=$(cat "$RUN_DIR/snapshot-$TOKEN") when="taken by this apply before it activated"
  else
    snapshot=$(newest_snapshot) when="taken before an earlier apply; this one took none"
  fi
  if [ -z "$snapshot" ]; then
    printf '\nImmich'\''s data is not rolled back with the system, and there is no snapshot of %s to restore from (none in %s on %s)' \
      "$SNAPSHOT_SUBVOLUME" "$SNAPSHOT_FOLDER" "$SNAPSHOT_LABEL"
    return 0
  fi
  printf '\nImmich'\''s data is not rolled back with the system. The newest snapshot of %s is %s on %s (%s).' \
    "$SNAPSHOT_SUBVOLUME" "$snapshot" "$SNAPSHOT_LABEL" "$when"
  if [ "$(findmnt -rn -o FSROOT --mountpoint "$SNAPSHOT_MOUNT_POINT" 2>/dev/null | tail -n1)" = "/$SNAPSHOT_SUBVOLUME" ]; then
    printf ' To restore the data from it (your decision: nothing is restored automatically), run as root on the host:\n'
    restore_commands "$snapshot"
  else
    printf ' The restored system does not mount %s at %s (its data is there in place): nothing to restore from it.' \
      "$SNAPSHOT_SUBVOLUME" "$SNAPSHOT_MOUNT_POINT"
  fi
}

rollback() {
  local reason=$1 current head
  say "rolling back: $reason"
  set_status rolling-back
  # Only this apply's own commit is undone (the host's apply lock keeps others out meanwhile).
  if [ "$(git -C "$REPO" rev-parse HEAD)" = "${OWN_COMMIT:-$PREV_COMMIT}" ]; then
    git_locked reset -q --hard "$PREV_COMMIT"
  else
    say "$REPO is no longer on this apply's commit ${OWN_COMMIT:0:12}: its history is left as it is"
  fi
  if [ -z "$PREV_SYSTEM" ]; then
    say "no previous system was active: nothing to re-activate"
  elif [ -x "$PREV_SYSTEM/bin/switch-to-configuration" ]; then
    timeout "$ACTIVATION_TIMEOUT" "$PREV_SYSTEM/bin/switch-to-configuration" test
  else
    timeout "$ACTIVATION_TIMEOUT" nixos-rebuild test "${REBUILD_ARGS[@]}"
  fi
  restore_data_path
  # The truth, not an exit code: which system is active, which commit the repo is on, where the data is.
  current=$(readlink -f /run/current-system 2>/dev/null || true)
  head=$(git -C "$REPO" rev-parse HEAD)
  if [ "$current" = "$PREV_SYSTEM" ] && [ "$head" = "$PREV_COMMIT" ] && data_path_ok; then
    printf '%s%s\n' "$reason; the host was restored: /run/current-system is ${PREV_SYSTEM:-unset} again and $REPO is back on commit ${PREV_COMMIT:0:12}$DATA_RESTORED" \
      "$(snapshot_note)" >"$RUN_DIR/result-$TOKEN"
    set_status rolled-back
  else
    printf '%s%s\n' "$reason; ROLLBACK INCOMPLETE: /run/current-system is $current (expected $PREV_SYSTEM), $REPO is on ${head:0:12} (expected ${PREV_COMMIT:0:12}), $DATA_SOURCE $(data_path_ok && echo 'holds its data' || echo "is empty and unmounted (the original is at $DATA_KEPT_AT)")" \
      "$(snapshot_note)" >"$RUN_DIR/result-$TOKEN"
    set_status rollback-failed
  fi
  exit 1
}

# Mounts whose live options differ from their declaration: someone remounted them by hand, or (BTRFS)
# an earlier mount of the same filesystem decided `compress`. A remount with the declared options fixes
# both (compress is filesystem-wide and a remount sets it); a wrong or missing mount is mounted again.
remount_differing() {
  local i mount_point options result remount_options
  for i in "${!CHECK_KIND[@]}"; do
    [ "${CHECK_KIND[$i]}" = mount ] || continue
    mount_point=${CHECK_TARGET[$i]} options=${CHECK_ARG[$i]}
    result=$(check_mount "$mount_point" "$options")
    [ "${result%%|*}" = fail ] || continue
    say "repairing $mount_point: ${result#*|}"
    remount_options=$(printf '%s' "$options" | tr ',' '\n' | grep -Ev '^(subvol=|subvolid=|bind$|defaults$)' | paste -sd, -)
    if findmnt -rn --mountpoint "$mount_point" >/dev/null && mount -o "remount${remount_options:+,$remount_options}" "$mount_point" \
      && [ "$(check_mount "$mount_point" "$options" | cut -d'|' -f1)" = pass ]; then
      continue
    fi
    if systemd_running; then
      systemctl restart "$(systemd-escape -p --suffix=mount "$mount_point")" || true
    else
      umount "$mount_point" 2>/dev/null || true
      nixos-rebuild test "${REBUILD_ARGS[@]}" >/dev/null || true
    fi
  done
}

# Units the configuration runs that are not running (stopped or failed by hand): started, then verified like
# everything else. Today's switch-to-configuration ends with `systemctl start multi-user.target`, which starts
# them again as a side effect (nixpkgs issue #294312, open, where that is called a bug): the job does not
# rely on it, and starts what the verification will check itself.
start_stopped_units() {
  local i unit
  systemd_running || return 0
  for i in "${!CHECK_KIND[@]}"; do
    [ "${CHECK_KIND[$i]}" = unit ] || continue
    unit=${CHECK_TARGET[$i]}
    systemctl is-active --quiet "$unit" && continue
    say "starting $unit: the configuration runs it, and it is $(systemctl is-active "$unit" 2>/dev/null || true)"
    systemctl reset-failed "$unit" 2>/dev/null || true
    systemctl start "$unit" || say "$unit did not start (the verification names it)"
  done
}

# The detached job. `job --rollback REASON` only rolls back: the deployer's session runs it when the job
# itself died.
job_main() {
  local rc deadline
  set +e
  export LC_ALL=C PATH=$JOB_PATH
  exec >>"$RUN_DIR/log-$TOKEN" 2>&1
  DATA_RESTORED=""
  if [ "${1:-}" = --rollback ]; then
    rollback "${2:-rollback requested}"
  fi

  say "activating (nixos-rebuild test: no boot entry until verified); PATH=$PATH"
  set_status activating
  if ! cutover_data_path; then
    rollback "the data path could not be moved onto $DATA_COPY"
  fi
  # After the move: on a first apply the snapshot holds the data synced while Immich was stopped.
  if ! take_snapshot; then
    rollback "the snapshot of $SNAPSHOT_SUBVOLUME into $SNAPSHOT_FOLDER on $SNAPSHOT_LABEL could not be taken"
  fi
  say "nixos-rebuild test"
  timeout "$ACTIVATION_TIMEOUT" nixos-rebuild test "${REBUILD_ARGS[@]}"
  rc=$?
  if [ "$rc" -eq 124 ]; then
    rollback "activation did not finish within ${ACTIVATION_TIMEOUT}s (\`nixos.activationTimeoutSeconds\`)"
  elif [ "$rc" -ne 0 ]; then
    rollback "activation failed (nixos-rebuild test exited $rc)"
  fi
  remount_differing
  start_stopped_units
  # The last check: the system running is the one this job activated from its own commit.
  CHECK_KIND+=(system) CHECK_TARGET+=(/run/current-system) CHECK_ARG+=("$(readlink -f /run/current-system)") CHECK_ARG2+=("$OWN_COMMIT")

  set_status verifying
  say "verifying (services get up to ${VERIFY_TIMEOUT}s to come up: \`nixos.verifyTimeoutSeconds\`)"
  VERIFY_DEADLINE=$((SECONDS + VERIFY_TIMEOUT))
  if ! run_checks >"$RUN_DIR/report-$TOKEN.json"; then
    cat "$RUN_DIR/report-$TOKEN.json"
    rollback "verification failed: $(grep -o '"check":"[^"]*","target":"[^"]*","status":"fail","detail":"[^"]*"' "$RUN_DIR/report-$TOKEN.json" | head -3 | tr '\n' ' ')"
  fi

  set_status awaiting-confirmation
  say "verified; waiting up to ${CONFIRM_TIMEOUT}s for the deployer to confirm over a new SSH connection"
  deadline=$((SECONDS + CONFIRM_TIMEOUT))
  until [ -f "$RUN_DIR/confirm-$TOKEN" ]; do
    if [ $SECONDS -ge $deadline ]; then
      rollback "no confirmation from the deployer within ${CONFIRM_TIMEOUT}s (connection lost?)"
    fi
    sleep 0.2
  done

  if [ "$BOOT_DEFAULT" = after-confirmation ]; then
    say "confirmed; making this configuration the boot default (nixos-rebuild boot)"
    if ! nixos-rebuild boot "${REBUILD_ARGS[@]}"; then
      rollback "nixos-rebuild boot failed"
    fi
  else
    say "confirmed; the boot default is unchanged (a reboot returns to it)"
  fi
  printf 'activated %s\n' "$(readlink -f /run/current-system)" >"$RUN_DIR/result-$TOKEN"
  say "done"
  set_status done
}

# -------------------------------------------------------------------------------------------- confirm

# Run over a NEW SSH connection once the activation job waits: the confirmation that the deployer can
# still reach the host. Then waits for the job to make the configuration the boot default, and prints
# the verification report.
confirm_main() {
  local run_dir="$STATE_DIR/apply" token=$CONFIRM_TOKEN status shown old
  [ -f "$run_dir/status-$token" ] || die "no activation job $token on this host"
  status=$(cat "$run_dir/status-$token")
  if [ "$status" != awaiting-confirmation ] && [ "$status" != done ]; then
    die "too late to confirm activation job $token: $status: $(cat "$run_dir/result-$token" 2>/dev/null)"
  fi
  echo confirmed >"$run_dir/confirm-$token"
  shown=$(wc -l <"$run_dir/log-$token")
  while :; do
    status=$(cat "$run_dir/status-$token")
    case $status in done|rolled-back|rollback-failed) break ;; esac
    sleep 0.2
  done
  tail -n +"$((shown + 1))" "$run_dir/log-$token"
  [ "$status" = done ] || die "$(cat "$run_dir/result-$token")"
  echo "result: $(cat "$run_dir/result-$token")"
  echo "report: $(tr -d '\n' <"$run_dir/report-$token.json")"
  echo "latest-snapshot: $(newest_snapshot | grep . || echo none)"
  # Keep the last few jobs' files for inspection.
  ls -1t "$run_dir"/status-* 2>/dev/null | tail -n +6 | sed 's/.*status-//' | while read -r old; do
    rm -f "$run_dir"/*-"$old" "$run_dir"/*-"$old".*
  done
}

# ------------------------------------------------------------------------------------------------ main

main() {
  case ${1:-} in
    start) converge "$DEFAULT_MODULE" "$MODULE_FILES" "skylab-immich: converge generated modules" ;;
    remove)
      if ! git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then echo "no change: $REPO is not a git repository"; exit 0; fi
      # What destroy verifies: the mounts are gone. The data path goes back afterwards (DataMigration).
      local i kinds=() targets=() args=() args2=()
      for i in "${!CHECK_KIND[@]}"; do
        [ "${CHECK_KIND[$i]}" = mount ] || continue
        kinds+=(unmounted) targets+=("${CHECK_TARGET[$i]}") args+=("") args2+=("")
      done
      CHECK_KIND=("${kinds[@]}") CHECK_TARGET=("${targets[@]}") CHECK_ARG=("${args[@]}") CHECK_ARG2=("${args2[@]}")
      # Destroy changes no data (Immich stops, the subvolume stays): no snapshot, none deleted.
      DATA_SOURCE="" DATA_KEPT_AT="" DATA_UNITS="" SNAPSHOT_KEEP=0
      converge "$EMPTY_MODULE" "" "skylab-immich: remove generated modules"
      ;;
    job) shift; job_main "$@" ;;
    confirm) confirm_main ;;
    *) die "usage: main start|remove|job|confirm" ;;
  esac
}
