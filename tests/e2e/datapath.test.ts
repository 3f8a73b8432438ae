/**
 * The data path is part of the last good state: a first apply that fails after the migration moved the
 * original aside puts it back where the previous system's Immich expects it, and the next up migrates
 * again and converges.
 */
import { expectNoChanges, expectSuccess, hostState, manifest, Target } from "./helpers";

const target = new Target("data1");
const state = () => hostState(target);

beforeAll(async () => {
  await target.create();
});

afterAll(async () => {
  await target.destroy();
});

test("MEDIAS too full for the migration: up refuses before anything is written", async () => {
  const before = await state();
  const original = await manifest(target, "/var/lib/immich");
  // Leave less free space on MEDIAS than /var/lib/immich holds.
  await target.ssh(
    "top=$(mktemp -d) && mount -o subvolid=5 /dev/disk/by-label/MEDIAS \"$top\" && " +
      "free=$(df -B1 --output=avail \"$top\" | tail -n1 | tr -d ' ') && need=$(du -sb /var/lib/immich | cut -f1) && " +
      "fallocate -l $((free - need / 2)) \"$top/filler\" && btrfs filesystem sync \"$top\" && umount \"$top\" && rmdir \"$top\"",
  );
  try {
    const refused = await target.up();
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("SKYLAB is not ready; nothing was changed");
    expect(refused.output).toMatch(/not enough space on MEDIAS for the migration: \d+ bytes to copy, \d+ free/);
    expect(await state()).toEqual(before);
    expect(await manifest(target, "/var/lib/immich")).toBe(original);
  } finally {
    // BTRFS frees deleted space at a transaction commit: wait (an event, bounded) until df shows it.
    await target.ssh(
      "top=$(mktemp -d) && mount -o subvolid=5 /dev/disk/by-label/MEDIAS \"$top\" && rm -f \"$top/filler\" && " +
        "need=$(du -sb /var/lib/immich | cut -f1) && for i in $(seq 100); do btrfs filesystem sync \"$top\"; " +
        "[ \"$(df -B1 --output=avail \"$top\" | tail -n1 | tr -d ' ')\" -gt $((need * 2)) ] && break; sleep 0.1; done; " +
        "umount \"$top\" && rmdir \"$top\"",
    );
  }
}, 300_000);

test("a failed first apply leaves /var/lib/immich with its original data, and the rerun converges", async () => {
  const before = await state();
  const original = await manifest(target, "/var/lib/immich");
  await target.ssh("touch /etc/nixos-rebuild-standin/fail-next-activation");
  const failed = await target.up();
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain("activation failed (nixos-rebuild test exited 2); the host was restored");
  expect(failed.output).toContain("the original data is back at /var/lib/immich (a copy stays on subvolume @immich on MEDIAS)");
  expect(await state()).toEqual(before);
  // Byte for byte, with owners, modes, times, links and xattrs: what the previous system had.
  expect(await manifest(target, "/var/lib/immich")).toBe(original);
  expect(await target.ssh("test -e /var/lib/immich.pre-skylab-immich && echo kept-aside || echo none")).toBe("none\n");
  expect(await target.ssh("test -e /var/lib/skylab-immich/migration.done && echo marker || echo none")).toBe("none\n");

  const preview = await target.preview("--diff");
  expectSuccess(preview);
  expect(preview.output).toContain("the data at /var/lib/immich is not on @immich (a rollback put it back): it is copied again");

  expectSuccess(await target.up());
  expect((await target.ssh("findmnt -rn -o FSROOT /var/lib/immich")).trim()).toBe("/@immich");
  expect(await manifest(target, "/var/lib/immich.pre-skylab-immich")).toBe(original);
  expectNoChanges(await target.up());
}, 300_000);

