# The activation job (appended to a preamble of its values and to verify-checks.sh by nixos-apply.sh).
# It runs detached from the SSH session, so a dropped connection cannot stop it halfway, and it rolls the
# host back by itself when activation or verification fails, or when the deployer does not confirm in
# time (the deployer confirms over a new SSH connection: proof the host is still reachable).
# Values: REPO MODE CHECKS CONFIRM_TIMEOUT VERIFY_TIMEOUT ACTIVATION_TIMEOUT RUN_DIR TOKEN PREV_COMMIT
#         PREV_SYSTEM REBUILD_ARGS(array) JOB_PATH DATA_SOURCE DATA_KEPT_AT DATA_LABEL DATA_SUBVOLUME DATA_COPY
#         DATA_UNITS MIGRATION_MARKER RSYNC_MIRROR(array); function medias_device
# `job --rollback REASON` only rolls back: the deployer's session runs it when the job itself died.
# shellcheck shell=bash
set -uo pipefail
export LC_ALL=C PATH=$JOB_PATH
exec >>"$RUN_DIR/log-$TOKEN" 2>&1

set_status() {
  printf '%s\n' "$1" >"$RUN_DIR/status-$TOKEN.tmp"
  mv -f "$RUN_DIR/status-$TOKEN.tmp" "$RUN_DIR/status-$TOKEN"
}
say() { printf '[%s] %s\n' "$(date -u +%T)" "$*"; }

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
  top=$(mktemp -d /run/skylab-immich-top.XXXXXX) || return 1
  if ! mount -t btrfs -o subvolid=5 "$device" "$top"; then rmdir "$top"; return 1; fi
  say "syncing what changed in $DATA_SOURCE since the copy"
  if rsync "${RSYNC_MIRROR[@]}" "$DATA_SOURCE/" "$top/$DATA_SUBVOLUME/" \
    && differences=$(rsync "${RSYNC_MIRROR[@]}" --dry-run --itemize-changes "$DATA_SOURCE/" "$top/$DATA_SUBVOLUME/") \
    && [ -z "$differences" ]; then
    umount "$top"; rmdir "$top"
  else
    say "the copy on $DATA_COPY differs from $DATA_SOURCE after the sync: ${differences:-rsync failed}"
    umount "$top"; rmdir "$top"
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

DATA_RESTORED=""
rollback() {
  local reason=$1 current head
  say "rolling back: $reason"
  set_status rolling-back
  git -C "$REPO" reset -q --hard "$PREV_COMMIT"
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
    printf '%s\n' "$reason; the host was restored: /run/current-system is ${PREV_SYSTEM:-unset} again and $REPO is back on commit ${PREV_COMMIT:0:12}$DATA_RESTORED" >"$RUN_DIR/result-$TOKEN"
    set_status rolled-back
  else
    printf '%s\n' "$reason; ROLLBACK INCOMPLETE: /run/current-system is $current (expected $PREV_SYSTEM), $REPO is on ${head:0:12} (expected ${PREV_COMMIT:0:12}), $DATA_SOURCE $(data_path_ok && echo 'holds its data' || echo "is empty and unmounted (the original is at $DATA_KEPT_AT)")" >"$RUN_DIR/result-$TOKEN"
    set_status rollback-failed
  fi
  exit 1
}

if [ "${1:-}" = --rollback ]; then
  rollback "${2:-rollback requested}"
fi

say "activating (nixos-rebuild test: no boot entry until verified); PATH=$PATH"
set_status activating
if ! cutover_data_path; then
  rollback "the data path could not be moved onto $DATA_COPY"
fi
timeout "$ACTIVATION_TIMEOUT" nixos-rebuild test "${REBUILD_ARGS[@]}"
rc=$?
if [ "$rc" -eq 124 ]; then
  rollback "activation did not finish within ${ACTIVATION_TIMEOUT}s (\`nixos.activationTimeoutSeconds\`)"
elif [ "$rc" -ne 0 ]; then
  rollback "activation failed (nixos-rebuild test exited $rc)"
fi

# Mounts whose live options differ from their declaration: someone remounted them by hand, or (BTRFS)
# an earlier mount of the same filesystem decided `compress`. A remount with the declared options fixes
# both (compress is filesystem-wide and a remount sets it); a wrong or missing mount is mounted again.
remount_differing() {
  local kind mount_point options result remount_options
  while IFS=$'\t' read -r kind mount_point options _; do
    [ "$kind" = mount ] || continue
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
  done <<<"$CHECKS"
}
remount_differing

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

if [ "$MODE" = switch ]; then
  say "confirmed; making this configuration the boot default (nixos-rebuild boot)"
  if ! nixos-rebuild boot "${REBUILD_ARGS[@]}"; then
    rollback "nixos-rebuild boot failed"
  fi
else
  say "confirmed; mode $MODE: the boot default is unchanged (a reboot returns to it)"
fi
printf 'activated %s\n' "$(readlink -f /run/current-system)" >"$RUN_DIR/result-$TOKEN"
set_status done
