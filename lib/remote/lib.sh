# Functions shared by the scripts in this folder; loadScript puts them after each script's
# `set -euo pipefail` line. They read only their arguments and the script's own values.

# The device of the filesystem labelled $1 as udev publishes it (what the fileSystems entry names too),
# or nothing. Not `blkid -L`: it scans every block device and could answer with another disk that
# carries the same label.
medias_device() {
  if [ -e "/dev/disk/by-label/$1" ]; then readlink -f "/dev/disk/by-label/$1"; fi
}

# Several scripts run git in the same repo ($REPO) at once, and git's index.lock admits one command that
# writes the index: another one fails ("Unable to create '.../index.lock': File exists"). So every git
# command that writes the index or the work tree (add, rm, commit, reset, checkout, stash, ...) runs
# through git_locked, in turn on one lock file in the git dir. Readers take no turn and must take no
# index.lock either: `git --no-optional-locks status` (plain `git status` holds index.lock while it
# looks, to refresh the index on the side), `git diff` only with --cached (a work-tree diff refreshes
# the index whatever the option says). tests/lib/remote/gitCallSites.test.ts holds the scripts to this.
git_locked() { flock "$(git -C "$REPO" rev-parse --absolute-git-dir)/skylab-immich.lock" git -C "$REPO" "$@"; }
git_add() { git_locked add "$@"; }

# The host's apply lock, one per config repo (in its git dir): held by an apply from before its commit to the
# end of its activation job (nixos-apply.sh). A directory (made atomically) with `holder` (stack, deployer,
# since, PID), `pid` (the session that took it) and, once the job has it, `status` (the job's status file)
# and `unit`. Writers of the repo take `writers` shared while they write, the apply takes it exclusively for
# a moment to make the directory: no writer is half-way when an apply starts, none starts while one runs.
apply_lock_dir() { printf '%s/skylab-immich-apply.lock' "$(git -C "$REPO" rev-parse --absolute-git-dir)"; }

# Is the apply lock $1 left by an apply that ended without releasing it (its job ended or is gone, or the
# session that took it is gone before it had a job)?
apply_lock_stale() {
  local lock=$1 status unit
  if [ -f "$lock/status" ]; then
    status=$(cat "$(cat "$lock/status")" 2>/dev/null || echo gone)
    case $status in done|rolled-back|rollback-failed|gone) return 0 ;; esac
    unit=$(cat "$lock/unit" 2>/dev/null || true)
    if [ -n "$unit" ] && [ -d /run/systemd/system ]; then ! systemctl is-active --quiet "$unit"; else return 1; fi
  elif [ -f "$lock/pid" ]; then
    ! kill -0 "$(cat "$lock/pid")" 2>/dev/null
  else
    return 1 # being made
  fi
}

# A writer of the config repo (a module, the sops file) waits while another apply holds the repo (this run's
# own apply comes after its writes), at most ${LOCK_WAIT:-600} seconds, then holds `writers` shared (fd 7)
# until it exits.
wait_for_no_apply() {
  local lock holder shown="" deadline=$((SECONDS + ${LOCK_WAIT:-600}))
  lock=$(apply_lock_dir)
  exec 7>"$lock.writers"
  while :; do
    flock -s 7
    [ -d "$lock" ] && ! apply_lock_stale "$lock" || return 0
    flock -u 7
    holder=$(cat "$lock/holder" 2>/dev/null || echo "an apply that is starting")
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "another apply holds $REPO: $holder. Nothing was written: run up again when it has ended" >&2
      exit 1
    fi
    if [ "$holder" != "$shown" ]; then
      echo "progress: waiting for the apply that holds $REPO: $holder" >&2
      shown=$holder
    fi
    sleep 0.5
  done
}

# rsync options of every copy of Immich's data onto the subvolume: owners, modes, times, hard links,
# ACLs, xattrs, numeric ids, a mirror. btrfs.compression is the xattr of the subvolume's compression
# property, inherited by every new file and folder there: not part of the data, so neither copied nor
# compared.
RSYNC_MIRROR=(-aHAX --numeric-ids --delete --sparse --filter='-x btrfs.compression')

# git commit in $REPO as the repo's own user, or as skylab-immich where none is configured; in turn with
# other scripts committing there.
git_commit() {
  local identity=()
  git -C "$REPO" config user.email >/dev/null || identity=(-c user.name=skylab-immich -c user.email=skylab-immich@localhost)
  git_locked "${identity[@]}" commit "$@"
}

# nixos-rebuild's arguments for the config repo $REPO, in REBUILD_ARGS: a flake, a checkout elsewhere
# than /etc/nixos, or nothing.
rebuild_arguments() {
  REBUILD_ARGS=()
  if [ -f "$REPO/flake.nix" ]; then
    REBUILD_ARGS+=(--flake "$REPO")
  elif [ "$REPO" != /etc/nixos ]; then
    REBUILD_ARGS+=(-I "nixos-config=$REPO/configuration.nix")
  fi
}

# Mounts the top level (subvolid=5) of the BTRFS filesystem on device $1 at a new folder under /run and
# prints the folder; $2 adds mount options (e.g. ro). Unmount it with unmount_top_level.
mount_top_level() {
  local top
  top=$(mktemp -d /run/skylab-immich-top.XXXXXX) || return 1
  if ! mount -t btrfs -o "${2:+$2,}subvolid=5" "$1" "$top"; then
    rmdir "$top"
    return 1
  fi
  printf '%s\n' "$top"
}
unmount_top_level() { umount "$1" 2>/dev/null || true; rmdir "$1" 2>/dev/null || true; }

# A JSON string holding $1; json_or_null: null for an empty $1.
json_string() {
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}
json_or_null() { if [ -n "$1" ]; then json_string "$1"; else printf 'null'; fi; }
# The non-empty lines of stdin as a JSON array of strings.
json_lines() {
  local line first=1
  printf '['
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    [ $first -eq 1 ] || printf ','
    first=0
    json_string "$line"
  done
  printf ']'
}

# An owned file's sha256 as a JSON string, or null when it is absent.
file_sha256_json() { if [ -f "$1" ]; then printf '"%s"' "$(sha256sum <"$1" | cut -d' ' -f1)"; else printf 'null'; fi; }
# An owned file's text as a JSON string when it is small (generated modules are) and holds no control
# character but tab and line ends (others have no JSON escape here); fails, printing nothing, otherwise.
owned_file_text_json() {
  [ -f "$1" ] && [ "$(stat -c %s "$1")" -le 16384 ] || return 1
  if tr -d '\n\t\r' <"$1" | grep -q '[[:cntrl:]]'; then return 1; fi
  local text
  text=$(cat "$1"; printf x)
  json_string "${text%x}"
}

# The one rule for "does the live mount at $1 match its declared options $2" (comma-separated, as
# declared), used by the host look (drift, previews) and by the apply (repair, verification). Prints
# pass|<what is mounted> or fail|<why, in a sentence>. BTRFS shows compress with its level
# (compress=zstd:3 satisfies compress=zstd); subvol= is compared with the mounted subvolume (FSROOT);
# bind and defaults are not visible once mounted.
check_mount() {
  local mount_point=$1 options=$2 line source fstype live fsroot option name value wanted
  line=$(findmnt -rn -o SOURCE,FSTYPE,OPTIONS,FSROOT --mountpoint "$mount_point" 2>/dev/null | tail -n1) || true
  if [ -z "$line" ]; then echo "fail|$mount_point is not mounted"; return; fi
  # findmnt -r escapes spaces as \x20, so fields split on spaces.
  read -r source fstype live fsroot <<<"$line"
  IFS=, read -r -a wanted <<<"$options"
  for option in "${wanted[@]}"; do
    name=${option%%=*}; value=${option#*=}
    case $option in
      bind|defaults) ;;
      subvol=*)
        [ "$fsroot" = "/${value#/}" ] || { echo "fail|$mount_point is mounted from $fsroot, expected subvolume /${value#/}"; return; } ;;
      compress=*|compress-force=*)
        if [[ ",$live," != *",$option,"* ]] && { [[ $value == *:* ]] || [[ ",$live," != *",$name=$value:"* ]]; }; then
          echo "fail|$mount_point is mounted without $option (live options: $live)"; return
        fi ;;
      *) [[ ",$live," == *",$option,"* ]] || { echo "fail|$mount_point is mounted without $option (live options: $live)"; return; } ;;
    esac
  done
  echo "pass|$source $fstype $live"
}

# The sops --extract index of key path $1, ["immich"]["db_password"] for immich/db_password; with $2,
# of its first $2 parts only (a parent).
sops_index() {
  local parts part index=""
  IFS=/ read -r -a parts <<<"$1"
  for part in "${parts[@]:0:${2:-${#parts[@]}}}"; do index+="[\"$part\"]"; done
  printf '%s' "$index"
}

# $1 as one shell word a user can paste: '...', each ' written as '\''.
shell_word() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# Snapshots of the data subvolume are named by the UTC time they were taken: sortable, and the pattern
# is how the program recognises its own (it deletes nothing else in the folder).
SNAPSHOT_NAME_PATTERN='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-[0-9]{2}-[0-9]{2}Z$'

# The program's snapshots in folder $1 (a path under a mounted top level), oldest first, one name a line:
# names matching the pattern that are read-only subvolumes.
list_snapshots() {
  local entry name
  [ -d "$1" ] || return 0
  for entry in "$1"/*; do
    name=${entry##*/}
    [[ $name =~ $SNAPSHOT_NAME_PATTERN ]] || continue
    btrfs subvolume show "$entry" >/dev/null 2>&1 || continue
    [ "$(btrfs property get "$entry" ro 2>/dev/null)" = ro=true ] || continue
    printf '%s\n' "$name"
  done | sort
}
