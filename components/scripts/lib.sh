# Functions shared by the scripts in this folder; loadScript puts them after each script's
# `set -euo pipefail` line. They read only their arguments and the script's own values.

# The device of the filesystem labelled $1 as udev publishes it (what the fileSystems entry names too),
# or nothing. Not `blkid -L`: it scans every block device and could answer with another disk that
# carries the same label.
medias_device() {
  if [ -e "/dev/disk/by-label/$1" ]; then readlink -f "/dev/disk/by-label/$1"; fi
}

# Several scripts stage files in the same repo ($REPO) at once: git's index.lock admits one, so take turns.
git_add() { flock "$(git -C "$REPO" rev-parse --absolute-git-dir)/skylab-immich.lock" git -C "$REPO" add "$@"; }

# rsync options of every copy of Immich's data onto the subvolume: owners, modes, times, hard links,
# ACLs, xattrs, numeric ids, a mirror. btrfs.compression is the xattr of the subvolume's compression
# property, inherited by every new file and folder there: not part of the data, so neither copied nor
# compared.
RSYNC_MIRROR=(-aHAX --numeric-ids --delete --sparse --filter='-x btrfs.compression')
