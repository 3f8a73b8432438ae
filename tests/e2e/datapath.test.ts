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

