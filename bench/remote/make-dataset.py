"""Generates the scenario-4 dataset on a sandbox: a tree shaped like Immich's data folder with a mix of
large files (videos, originals: 1–16 MiB) and many small ones (thumbnails, sidecars: 1–128 KiB), a few
hard links and symlinks. Photo and video bytes do not compress, so most content is random; sidecars
(a fifth of the small files) are text. Deterministic for a given size (seeded).

Usage: python3 make-dataset.py DIR MEGABYTES   (prints the number of files and bytes written)
"""
import os
import random
import sys

root, megabytes = sys.argv[1], int(sys.argv[2])
total = megabytes * 1024 * 1024
rng = random.Random(42)
large_share = 0.6
written = files = 0
chunk = os.urandom(1 << 20)


def write(path, size, text=False):
    global written, files
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        if text:
            line = b'{"asset": "%d", "exif": {"make": "Digicam", "iso": 200}}\n' % files
            out.write((line * (size // len(line) + 1))[:size])
        else:
            left = size
            while left > 0:
                # Random bytes at a random offset of one random megabyte: cheap, and not compressible.
                offset = rng.randrange(0, len(chunk) // 2)
                piece = chunk[offset:offset + min(left, len(chunk) - offset)]
                out.write(piece)
                left -= len(piece)
    written += size
    files += 1


large_budget = int(total * large_share)
while written < large_budget:
    size = min(rng.randint(1 << 20, 16 << 20), large_budget - written)
    if size <= 0:
        break
    write(os.path.join(root, "upload", "library", f"{files // 50:03d}", f"VID_{files:05d}.mp4"), size)
while written < total:
    size = min(rng.randint(1 << 10, 128 << 10), total - written)
    folder = rng.choice(["thumbs", "encoded-video", "profile", "backups"])
    sidecar = rng.random() < 0.2
    name = f"asset {files:05d}.xmp" if sidecar else f"IMG_{files:05d}.jpg"
    write(os.path.join(root, folder, f"{files % 97:02d}", name), size, text=sidecar)

# A few hard links and symlinks, as the fixture has.
os.makedirs(os.path.join(root, "links"), exist_ok=True)
for i, path in enumerate(sorted(p for p in os.listdir(os.path.join(root, "thumbs")))[:5]):
    folder = os.path.join(root, "thumbs", path)
    first = sorted(os.listdir(folder))[0]
    os.link(os.path.join(folder, first), os.path.join(root, "links", f"hardlink-{i}.jpg"))
    os.symlink(os.path.join("..", "thumbs", path, first), os.path.join(root, "links", f"symlink-{i}.jpg"))
print(f"{files} {written}")
