/**
 * Snapshots of `@immich`: every apply that activates leaves exactly one new read-only snapshot under
 * `@immich-snapshots/` at the top of MEDIAS, the newest `storage.snapshots.keep` of the program's own stay
 * (nothing else in the folder is touched), a no-op `up` takes none, `keep: 0` takes and deletes none, the
 * stack exports the newest, a
 * rollback names it with restore commands that, run as printed, bring back a file deleted after it, and
 * destroy keeps the snapshots unless `storage.allowDataLoss` is set, and then deletes only the program's.
 */
import { expectNoChanges, expectSuccess, shellWord, Target, waitFor } from "./helpers";

const target = new Target("snap1");
const FOLDER = "@immich-snapshots";
const NAME = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/;
/** Entries in the folder that are not the program's: a plain folder and a writable subvolume, named by its pattern. */
const FOREIGN = ["2000-01-01T00-00-00Z", "2000-01-02T00-00-00Z"];
const config = (clientMaxBodySize: string) => ({
  storage: { snapshots: { keep: 2 } },
  nginx: { clientMaxBodySize },
  nixos: { confirmTimeoutSeconds: 20, verifyTimeoutSeconds: 60 },
});

/** Runs `command` with $top the top level of MEDIAS, mounted for it. */
function onTop(command: string): Promise<string> {
  return target.ssh(
    `top=$(mktemp -d) && mount -o subvolid=5 /dev/disk/by-label/MEDIAS "$top" && trap 'umount "$top"; rmdir "$top"' EXIT && cd "$top" && ${command}`,
  );
}

/** The program's snapshots (name pattern, not the foreign entries), oldest first. */
async function snapshots(): Promise<string[]> {
  const names = (await onTop(`ls -1 ${shellWord(FOLDER)} 2>/dev/null || true`)).split("\n").filter(Boolean);
  return names.filter((n) => NAME.test(n) && !FOREIGN.includes(n)).sort();
}

async function readOnly(name: string): Promise<string> {
  return (await onTop(`btrfs property get ${shellWord(`${FOLDER}/${name}`)} ro`)).trim();
}

async function latestSnapshot(): Promise<unknown> {
  const result = await target.pulumi(["stack", "output", "latestSnapshot", "--json"]);
  expectSuccess(result);
  return JSON.parse(result.stdout);
}

/** The one snapshot in `after` that is not in `before`. */
function newOne(before: string[], after: string[]): string {
  const added = after.filter((n) => !before.includes(n));
  expect(added).toHaveLength(1);
  return added[0];
}

beforeAll(async () => {
  await target.create({ config: config("50000M") });
}, 300_000);

afterAll(async () => {
  await target.destroy();
}, 300_000);

test("each apply that changes something leaves one new read-only snapshot; keep 2 keeps 2; a no-op up takes none", async () => {
  expectSuccess(await target.up());
  const first = await snapshots();
  expect(first).toHaveLength(1);
  expect(await readOnly(first[0])).toBe("ro=true");
  expect(await latestSnapshot()).toBe(`${FOLDER}/${first[0]}`);
  // Entries the program did not make, in its folder and named by its pattern: they must survive pruning.
  await onTop(
    `mkdir ${shellWord(`${FOLDER}/${FOREIGN[0]}`)} && btrfs subvolume create ${shellWord(`${FOLDER}/${FOREIGN[1]}`)} >/dev/null`,
  );

  expectNoChanges(await target.up());
  expect(await snapshots()).toStrictEqual(first);

  await target.reconfigure({ config: config("60000M") });
  expectSuccess(await target.up());
  const second = await snapshots();
  const s2 = newOne(first, second);
  expect(second).toStrictEqual([first[0], s2]);
  expect(await readOnly(s2)).toBe("ro=true");

  await target.reconfigure({ config: config("70000M") });
  expectSuccess(await target.up());
  const third = await snapshots();
  const s3 = newOne(second, third);
  // N+1 changing applies keep N: the oldest went.
  expect(third).toStrictEqual([s2, s3]);
  expect(await readOnly(s3)).toBe("ro=true");
  expect(await latestSnapshot()).toBe(`${FOLDER}/${s3}`);
  expect((await onTop(`ls -1 ${shellWord(FOLDER)}`)).split("\n").filter((n) => FOREIGN.includes(n))).toStrictEqual(FOREIGN);
  expectNoChanges(await target.up());
  expect(await snapshots()).toStrictEqual(third);
}, 600_000);

test("a rollback names the snapshot and the restore commands; run as printed, they bring back a file deleted after it", async () => {
  await target.ssh("printf 'the only copy\\n' > '/var/lib/immich/upload/precious photo.jpg'");
  const before = await snapshots();
  await target.ssh("touch /etc/nixos-rebuild-standin/fail-next-activation");
  await target.reconfigure({ config: config("80000M") });
  const failed = await target.up();
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain("activation failed (nixos-rebuild test exited 2); the host was restored");
  const taken = newOne(before, await snapshots());
  expect(failed.output).toContain(
    `Immich's data is not rolled back with the system. The newest snapshot of @immich is ${FOLDER}/${taken} on MEDIAS ` +
      "(taken by this apply before it activated). To restore the data from it (your decision: nothing is restored automatically), " +
      "run as root on the host:",
  );
  // The commands as printed: the lines after that sentence, up to Immich's start, without the engine's indentation.
  const lines = failed.output.split("\n");
  const header = lines.findIndex((l) => l.includes("run as root on the host:"));
  const indent = /^\s*/.exec(lines[header + 1])![0];
  const end = lines.findIndex((l, i) => i > header && l.startsWith(`${indent}systemctl start`));
  const commands = lines.slice(header + 1, end + 1).map((l) => l.slice(indent.length));
  expect(commands).toStrictEqual([
    "systemctl stop 'immich-server.service' 'immich-machine-learning.service'",
    "umount '/var/lib/immich'",
    "top=$(mktemp -d) && mount -t btrfs -o subvolid=5 '/dev/disk/by-label/MEDIAS' \"$top\"",
    `mv -T "$top"/'@immich' "$top"/'@immich.before-restore-${taken}'`,
    `btrfs subvolume snapshot "$top"/'${FOLDER}/${taken}' "$top"/'@immich'`,
    "umount \"$top\" && rmdir \"$top\"",
    "mount '/var/lib/immich'",
    "systemctl start 'immich-server.service' 'immich-machine-learning.service'",
  ]);

  // Deleted after the snapshot; the restore is the owner's decision, so it is still gone.
  await target.ssh("rm '/var/lib/immich/upload/precious photo.jpg'");
  await target.ssh(`set -e\n${commands.join("\n")}`);
  expect(await target.ssh("cat '/var/lib/immich/upload/precious photo.jpg'")).toBe("the only copy\n");
  expect((await target.ssh("findmnt -rn -o FSROOT --mountpoint /var/lib/immich")).trim()).toBe("/@immich");
  await waitFor("Immich running", () => target.ssh("systemctl is-active immich-server.service || true"), (s) => s.trim() === "active", 150);
  // The data that was replaced is kept aside, never deleted.
  expect((await onTop(`btrfs subvolume show ${shellWord(`@immich.before-restore-${taken}`)} >/dev/null && echo kept`)).trim()).toBe("kept");

  expectSuccess(await target.up());
  expectNoChanges(await target.up());
}, 600_000);

test("keep 0 turns snapshots off: a changing apply takes none and deletes none; the output still names the newest", async () => {
  const before = await snapshots();
  expect(before).toHaveLength(2);
  await target.reconfigure({ config: { ...config("90000M"), storage: { snapshots: { keep: 0 } } } });
  const applied = await target.up();
  expectSuccess(applied);
  expect(await snapshots()).toStrictEqual(before);
  expect(await latestSnapshot()).toBe(`${FOLDER}/${before[1]}`);
  // Back to keep 2: a setting of the apply changed, so it runs once more, snapshots and prunes to 2.
  await target.reconfigure({ config: config("90000M") });
  expectSuccess(await target.up());
  const after = await snapshots();
  expect(after).toStrictEqual([before[1], newOne(before, after)]);
  expectNoChanges(await target.up());
}, 600_000);

test("destroy keeps the snapshots (storage.allowDataLoss is not set)", async () => {
  const before = await snapshots();
  expect(before).toHaveLength(2);
  const destroyed = await target.pulumi(["destroy", "--yes"]);
  expectSuccess(destroyed);
  expect(await snapshots()).toStrictEqual(before);
  for (const name of before) expect(await readOnly(name)).toBe("ro=true");
}, 600_000);

test("with storage.allowDataLoss, destroy deletes the program's snapshots and nothing else in their folder", async () => {
  await target.reconfigure({ config: { ...config("80000M"), storage: { snapshots: { keep: 2 }, allowDataLoss: true } } });
  expectSuccess(await target.up());
  expect((await snapshots()).length).toBeGreaterThan(0);
  expectSuccess(await target.pulumi(["destroy", "--yes"]));
  expect(await snapshots()).toStrictEqual([]);
  expect((await onTop(`ls -1 ${shellWord(FOLDER)}`)).split("\n").filter(Boolean)).toStrictEqual(FOREIGN);
  expect((await onTop("btrfs subvolume show @immich >/dev/null 2>&1 && echo present || echo deleted")).trim()).toBe("deleted");
}, 600_000);
