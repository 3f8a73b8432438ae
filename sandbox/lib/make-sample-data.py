#!/usr/bin/python3
"""Writes the state a migration has to carry over: an Immich media folder and a camera folder.

Usage: make-sample-data.py IMMICH_DIR DIGICAM_DIR DIGICAM_UID DIGICAM_GID

IMMICH_DIR gets a few hundred files in Immich's layout, including the awkward cases a copy must
preserve (spaces, quotes, a symlink, a hard link pair, an empty file, an xattr, a non-root owner).
DIGICAM_DIR gets a handful of small, valid PNG images. Content is deterministic.
"""

import os
import random
import struct
import sys
import zlib

# Files left by an earlier Immich install: owned by a uid/gid that has no name on this system.
PREVIOUS_OWNER = (1500, 1500)
USER_ID = "3f2c9a4e-6b1d-4c8e-9a57-0d2b7e61c4f3"


def write(path, data, owner=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
    if owner:
        os.chown(path, *owner)


def png(width, height, seed):
    """A real RGB PNG: a gradient, so every image differs and decoders have something to check."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes(((x * 255 // width + seed * 40) % 256, (y * 255 // height) % 256, (seed * 70) % 256))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")


def immich_media(base, immich_owner):
    rng = random.Random(20240611)
    count = 0
    for folder in ("upload", "library", "thumbs", "encoded-video", "profile", "backups"):
        write(os.path.join(base, folder, ".immich"), b"")  # Immich's folder marker: an empty file
        count += 1
    for day in range(1, 21):
        for shot in range(1, 7):
            name = f"2024/2024-06-{day:02d}/IMG_{day:02d}{shot:02d}.jpg"
            size = rng.choice((2048, 4096, 8192, 16384)) if (day * shot) % 17 else 300 * 1024
            write(os.path.join(base, "library", USER_ID, name), rng.randbytes(size), PREVIOUS_OWNER)
            count += 1
    for index in range(1, 101):
        sub = f"{index % 16:02x}/{(index * 7) % 16:02x}"
        write(os.path.join(base, "thumbs", USER_ID, sub, f"thumb-{index:03d}.webp"), rng.randbytes(rng.randint(512, 6000)), PREVIOUS_OWNER)
        count += 1
    for index in range(1, 41):
        write(os.path.join(base, "upload", "upload", USER_ID, f"{index:02x}", f"asset-{index:03d}.heic"), rng.randbytes(rng.randint(1000, 9000)))
        count += 1
    for index in range(1, 6):
        write(os.path.join(base, "encoded-video", USER_ID, f"clip-{index}.mp4"), rng.randbytes(200 * 1024 + index * 1000), PREVIOUS_OWNER)
        count += 1
    write(os.path.join(base, "profile", USER_ID, "avatar.png"), png(32, 32, 9), PREVIOUS_OWNER)
    for index in range(1, 4):
        write(os.path.join(base, "backups", f"immich-db-backup-{index}.sql.gz"), zlib.compress(rng.randbytes(3000)))
    count += 4

    album = os.path.join(base, "upload", "My Album 2024")
    write(os.path.join(album, "photo with spaces.jpg"), rng.randbytes(5000))
    write(os.path.join(album, "it's a \"quoted\" name.jpg"), rng.randbytes(5000))
    write(os.path.join(album, "empty file.txt"), b"")
    count += 3

    original = os.path.join(base, "thumbs", USER_ID, "hardlink-original.webp")
    write(original, rng.randbytes(4000), PREVIOUS_OWNER)
    os.link(original, os.path.join(base, "thumbs", USER_ID, "hardlink-twin.webp"))
    os.symlink(f"../library/{USER_ID}/2024/2024-06-01/IMG_0101.jpg", os.path.join(base, "upload", "latest.jpg"))
    os.setxattr(os.path.join(album, "photo with spaces.jpg"), "user.skylab", b"test")
    count += 3

    # The running Immich's user owns what it writes (its folders and their markers, which it checks at
    # start); the per-user folders keep the earlier install's owner.
    for directory, _subdirs, files in os.walk(base):
        owner = PREVIOUS_OWNER if USER_ID in directory else immich_owner
        os.chown(directory, *owner)
        for name in files:
            if os.stat(os.path.join(directory, name), follow_symlinks=False).st_uid == 0:
                os.chown(os.path.join(directory, name), *owner, follow_symlinks=False)
    return count


def digicam(base, uid, gid):
    os.makedirs(base, exist_ok=True)
    os.chown(base, uid, gid)
    for index, (width, height) in enumerate(((64, 48), (48, 64), (80, 60), (32, 32), (100, 75)), start=1):
        path = os.path.join(base, f"IMG_{index:04d}.png")
        write(path, png(width, height, index), (uid, gid))
    return 5


def main():
    immich_dir, digicam_dir, uid, gid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    immich_owner = (int(sys.argv[5]), int(sys.argv[6]))
    files = immich_media(immich_dir, immich_owner)
    images = digicam(digicam_dir, uid, gid)
    print(f"sample data: {files} entries in {immich_dir}, {images} images in {digicam_dir}")


if __name__ == "__main__":
    main()
