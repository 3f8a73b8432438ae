#!/usr/bin/env bash
# Copies the data at $SOURCE onto subvolume $SUBVOLUME without loss, resumably:
#   copy (rsync: owners, modes, times, hard links, symlinks, ACLs, xattrs) -> verify every file
#   byte for byte (checksums) -> record the copy in $STATE_DIR/migration.done.
# The original stays where the active system expects it, and Immich runs on it again after the copy:
# the apply job, whose rollback covers the data path, syncs what changed since, moves the original aside
# to $KEEP_AT and mounts the subvolume. Killed at any point (the deployer gone, the copy killed, MEDIAS
# full), the host keeps its data in place; a rerun continues the copy where it stopped.
# Inputs: MEDIAS_LABEL SUBVOLUME SOURCE KEEP_AT STATE_DIR UNITS (space-separated systemd units)
set -euo pipefail
export LC_ALL=C

marker="$STATE_DIR/migration.done"
device=$(medias_device "$MEDIAS_LABEL")
if [ -z "$device" ] || [ ! -b "$device" ]; then
  echo "no filesystem labelled $MEDIAS_LABEL: check \`storage.mediasLabel\`" >&2
  exit 1
fi

if [ "$(findmnt -rn -o FSROOT --mountpoint "$SOURCE" 2>/dev/null | tail -n1)" = "/$SUBVOLUME" ]; then
  echo "no change: $SOURCE is already subvolume $SUBVOLUME"
  exit 0
fi
if [ -f "$marker" ]; then
  echo "no change: copied earlier ($(cat "$marker")); the apply syncs what changed since"
  exit 0
fi

# Where the data to copy is: at $SOURCE, or (an earlier version of this program moved it) at $KEEP_AT.
if [ -d "$SOURCE" ] && [ -n "$(ls -A "$SOURCE")" ]; then
  from=$SOURCE
elif [ -d "$KEEP_AT" ]; then
  from=$KEEP_AT
else
  mkdir -p "$STATE_DIR" "$SOURCE"
  echo "nothing to migrate: $SOURCE is empty or absent at $(date -u +%FT%TZ)" >"$marker"
  echo "nothing to migrate: $SOURCE is empty or absent"
  exit 0
fi

# One copy at a time: a run whose connection died unseen may still be copying (its sshd has not noticed).
mkdir -p "$STATE_DIR"
exec 8>"$STATE_DIR/migration.lock"
if ! flock -n 8; then
  echo "a migration of $SOURCE is already running on this host (PID $(cat "$STATE_DIR/migration.pid" 2>/dev/null || echo unknown)): wait until it ends (or stop that process), then run up again" >&2
  exit 1
fi
echo "$$" >"$STATE_DIR/migration.pid"

top=""
errors=$(mktemp /run/skylab-immich-rsync.XXXXXX)
stopped=()
# However this ends (done, failed, killed, the deployer's connection gone), Immich runs again on the data
# it had. Writing to a closed connection ends the script (SIGPIPE, handled) but not the cleanup.
cleanup() {
  trap '' PIPE
  [ -z "$top" ] || unmount_top_level "$top"
  rm -f "$errors"
  for unit in "${stopped[@]}"; do
    if systemctl start "$unit" 2>/dev/null; then echo "started $unit again on $SOURCE" >&2 || true; fi
  done
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 141' PIPE
trap 'exit 143' TERM

# Immich must not write while its data is copied.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for unit in $UNITS; do
    if systemctl is-active --quiet "$unit"; then
      echo "stopping $unit for the copy"
      stopped+=("$unit")
      systemctl stop "$unit"
    fi
  done
fi

top=$(mount_top_level "$device")
target="$top/$SUBVOLUME"
if ! btrfs subvolume show "$target" >/dev/null 2>&1; then
  echo "subvolume $SUBVOLUME does not exist on $MEDIAS_LABEL" >&2
  exit 1
fi

# A subvolume made by hand is used as it is, but the mirror copy below deletes what the source lacks: files
# that are not an earlier (interrupted) copy of this program's are never overwritten or deleted.
# Once this program has copied into the subvolume on this host (the marker; a snapshot restored in its place,
# or a copy interrupted, is its own data), what is there is its own.
started="$STATE_DIR/migration.started"
uuid=$(btrfs subvolume show "$target" | sed -n 's/^[[:space:]]*UUID:[[:space:]]*//p')
if [ ! -f "$started" ] && [ -n "$(find "$target" -mindepth 1 -maxdepth 1 -print -quit)" ]; then
  echo "subvolume $SUBVOLUME on $MEDIAS_LABEL already holds files that skylab-immich did not copy there (made by hand?); nothing was changed. Fix: move them out of $SUBVOLUME (mount it with: mount -o subvol=$SUBVOLUME /dev/disk/by-label/$MEDIAS_LABEL /mnt), then run up again" >&2
  exit 1
fi
mkdir -p "$STATE_DIR"
printf 'copied into %s (UUID %s) from %s, %s\n' "$SUBVOLUME" "$uuid" "$from" "$(date -u +%FT%TZ)" >"$started"
files=$(find "$from" -mindepth 1 | wc -l)
bytes=$(du -sb "$from" | cut -f1)
free=$(df -B1 --output=avail "$top" | tail -n1 | tr -d ' ')
if [ "$bytes" -gt "$free" ]; then
  echo "not enough space on $MEDIAS_LABEL: $bytes bytes to copy, $free free" >&2
  exit 1
fi
echo "copying $files entries ($bytes bytes) from $from to $SUBVOLUME"
# One streaming filter turns rsync's \r-updated progress line into `progress:` lines (a shell loop per
# line costs more than the copy).
# In a subshell of its own, whose notices ("Killed") go nowhere: the message below says what happened.
rc=0
exec 3>&2
(
  rsync "${RSYNC_MIRROR[@]}" --info=progress2 --no-inc-recursive "$from/" "$target/" 2>"$errors" \
    | tr '\r' '\n' | tr -s ' ' | sed -un 's/^ *\(.*[^ ].*\)$/progress: copying: \1/p' >&3
) 2>/dev/null || rc=$?
if [ "$rc" -ne 0 ]; then
  said=$(tail -n 5 "$errors" 2>/dev/null || true)
  free=$(df -B1 --output=avail "$top" | tail -n1 | tr -d ' ')
  if grep -q 'No space left on device' "$errors" || [ "$free" -lt 1048576 ]; then
    echo "$MEDIAS_LABEL is full: the copy of $from stopped with $free bytes free ($bytes bytes to copy); nothing was moved: $from still holds the data, and Immich runs on it again. Free space on $MEDIAS_LABEL, then run up again: the copy continues where it stopped" >&2
  else
    printf 'the copy of %s to %s failed (rsync exit %s); nothing was moved: %s still holds the data. rsync said:\n%s\n' \
      "$from" "$SUBVOLUME" "$rc" "$from" "$said" >&2
  fi
  exit 1
fi
echo "progress: verifying checksums of every file" >&2
differences=$(rsync "${RSYNC_MIRROR[@]}" --checksum --dry-run --itemize-changes "$from/" "$target/")
if [ -n "$differences" ]; then
  echo "verification failed: the copy differs from $from:" >&2
  echo "$differences" | head -20 >&2
  exit 1
fi
echo "verified: every file of $from is on $SUBVOLUME, byte-identical"

mkdir -p "$STATE_DIR"
echo "from $from to subvolume $SUBVOLUME at $(date -u +%FT%TZ); the apply moves the original aside to $KEEP_AT" >"$marker"
echo "copied; the original stays at $from until the apply mounts $SUBVOLUME there (then it is kept at $KEEP_AT: remove it yourself once Immich works from the subvolume)"
