/**
 * Storage converge against a sandbox SKYLAB with the real engine: the @immich subvolume, the verified
 * migration of /var/lib/immich onto it, the mount entries, ownership, idempotence, diffs, destroy.
 */
import { readFileSync } from "fs";
import { readConnection } from "../../sandbox";
import { expectNoChanges, expectSuccess, hostState, manifest, Target } from "./helpers";

const target = new Target("stor1");
let originalManifest = "";
let systemBefore = "";
let repoFilesBefore = "";

beforeAll(async () => {
  await target.create({ sandbox: { size: "1G" } });
  originalManifest = await manifest(target, "/var/lib/immich");
  // The evaluated configuration of the active system (the stand-in's store path also hashes the commit).
  systemBefore = await target.ssh("sha256sum < /run/current-system/config.json");
  repoFilesBefore = await target.ssh("cd /etc/nixos && git ls-files | grep -v '^modules/generated/' | xargs sha256sum");
});

afterAll(async () => {
  await target.destroy();
});

test("before the first up, MEDIAS is mounted first without compress (the trap the program must handle)", async () => {
  expect(await target.ssh("findmnt -no OPTIONS /mnt/medias")).not.toContain("compress");
  expect(originalManifest.split("\n").length).toBeGreaterThan(300);
});

test("the first up copies and verifies the data, then the apply moves the original aside and mounts @immich", async () => {
  expectSuccess(await target.up());
  expect(await target.ssh("cat /var/lib/skylab-immich/migration.done")).toMatch(
    /^from \/var\/lib\/immich to subvolume @immich at \S+; the apply moves the original aside to \/var\/lib\/immich.pre-skylab-immich\n$/,
  );
  expect(await target.ssh("grep -h 'data path:' /var/lib/skylab-immich/apply/log-*")).toMatch(
    /\] data path: the original is kept at \/var\/lib\/immich.pre-skylab-immich; \/var\/lib\/immich is the mount point of subvolume @immich on MEDIAS\n$/,
  );
});

test("the subvolume is mounted with subvol, noatime and effective zstd compression", async () => {
  const [source, fstype, options] = (await target.ssh("findmnt -no SOURCE,FSTYPE,OPTIONS /var/lib/immich")).trim().split(/\s+/);
  const device = (await target.ssh("readlink -f /dev/disk/by-label/MEDIAS")).trim();
  expect(source).toBe(`${device}[/@immich]`);
  expect(fstype).toBe("btrfs");
  expect(options.split(",")).toEqual(expect.arrayContaining(["noatime", "subvol=/@immich"]));
  expect(options.split(",").some((o) => o === "compress=zstd" || o.startsWith("compress=zstd:"))).toBe(true);
  expect((await target.ssh("btrfs property get /var/lib/immich compression")).trim()).toBe("compression=zstd");
  expect((await target.ssh("stat -c '%U:%G %a' /var/lib/immich")).trim()).toBe("immich:immich 700");
});

test("the Pictures folder is a read-only bind mount at /media/immich that immich can read", async () => {
  const options = (await target.ssh("findmnt -no OPTIONS /media/immich")).trim().split(",");
  expect(options).toContain("ro");
  expect((await target.ssh("findmnt -no FSROOT /media/immich")).trim()).toBe("/@pictures/Digicam");
  expect(await target.ssh("setpriv --reuid=immich --regid=immich --init-groups ls /media/immich | wc -l")).toBe("5\n");
});

test("every file arrived byte-identical with owners, modes, times, links and xattrs; the original is kept aside", async () => {
  const migrated = await manifest(target, "/var/lib/immich");
  // The mount point itself is owned by immich now; its content is what matters.
  expect(migrated).toBe(originalManifest);
  expect(await manifest(target, "/var/lib/immich.pre-skylab-immich")).toBe(originalManifest);
});

test("a second up reports no changes and runs nothing that modifies the host", async () => {
  const connectionsBefore = target.acceptedConnections();
  const commandsBefore = target.remoteCommands();
  const result = await target.up();
  expectNoChanges(result);
  // One connection, and on it the host look alone: no remote script ran (steps would share that connection).
  expect(target.acceptedConnections() - connectionsBefore).toBe(1);
  expect(target.remoteCommands() - commandsBefore).toBe(1);
});

test("preview --diff shows the exact option a mount option change adds to the module, and up applies it", async () => {
  await target.reconfigure({ config: { storage: { mountOptions: ["noatime", "nodiratime"] } } });
  const preview = await target.preview("--diff");
  expectSuccess(preview);
  // The module's typed body: the one option added to the fileSystems entry's list; and no talk of a
  // hand edit (the file is as the last up left it: this is the plan).
  expect(preview.output).toMatch(/^\s*\+ \[3\]: "nodiratime"$/m);
  expect(preview.output).not.toContain("was edited on the host");
  expect(preview.output).toMatch(/RemoteScript: \(update\)\s*\n\s*\[id=[^\]]*\]\s*\n\s*\[urn=[^\]]*::immich-data-mount-module-file\]/);
  expectSuccess(await target.up());
  expect((await target.ssh("findmnt -no OPTIONS /var/lib/immich")).split(",")).toContain("nodiratime");
  expectNoChanges(await target.up());
});

test("a destroy whose activation fails (a shell open in /media/immich keeps it busy) is rolled back like up", async () => {
  const before = await hostState(target);
  const modules = await target.ssh("ls /etc/nixos/modules/generated/skylab-immich");
  // A process of the owner's whose working folder is the bind mount: systemd cannot unmount it.
  await target.ssh("setsid bash -c 'cd /media/immich && exec sleep 600' </dev/null >/dev/null 2>&1 & echo $! > /run/busy-pid");
  let failed;
  try {
    failed = await target.pulumi(["destroy", "--yes"]);
  } finally {
    await target.ssh("kill \"$(cat /run/busy-pid)\"; rm -f /run/busy-pid");
  }
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain("activation failed (nixos-rebuild test exited");
  expect(failed.output).toContain("the host was restored");
  // Nothing of the removal stays: the same system, commit, mounts and modules, the data still mounted.
  expect(await hostState(target)).toEqual(before);
  expect(await target.ssh("ls /etc/nixos/modules/generated/skylab-immich")).toBe(modules);
  expect(await target.ssh("cd /etc/nixos && git status --porcelain")).toBe("");
  expect((await target.ssh("findmnt -rn -o FSROOT --mountpoint /var/lib/immich")).trim()).toBe("/@immich");
  expectNoChanges(await target.preview());
}, 300_000);

test("a destroy while the owner's own configuration declares /media/immich: that mount stays (it is the owner's), the program's go", async () => {
  // The owner's own module declares the same bind mount (committed, as the apply requires).
  await target.ssh(
    "cd /etc/nixos && printf '%s\\n' '{ ... }:' '{' '  fileSystems.\"/media/immich\" = { device = \"/home/zipang/Pictures/Digicam\"; fsType = \"none\"; options = [ \"bind\" \"ro\" ]; };' '}' > modules/system/pictures-by-hand.nix && " +
      "sed -i 's|    ./modules/services/immich.nix|&\\n    ./modules/system/pictures-by-hand.nix|' configuration.nix && git add -A && git commit -qm 'pictures: bind mount by hand'",
  );
  const ownersCommit = (await target.ssh("git -C /etc/nixos rev-parse HEAD")).trim();
  // Preview adopts it: the owner's definition is the one in force.
  const preview = await target.preview();
  expect(preview.output).toContain('modules/system/pictures-by-hand.nix: fileSystems."/media/immich".device = "/home/zipang/Pictures/Digicam"');
  try {
    const destroyed = await target.pulumi(["destroy", "--yes"]);
    expectSuccess(destroyed);
    // The owner's bind mount stays, the program's data mount is gone.
    expect((await target.ssh("findmnt -rn -o FSROOT --mountpoint /media/immich")).trim()).toBe("/@pictures/Digicam");
    expect(await target.ssh("findmnt -no TARGET /var/lib/immich || echo none")).toBe("none\n");
  } finally {
    await target.ssh(`cd /etc/nixos && git revert --no-edit ${ownersCommit} >/dev/null`);
  }
  // Converged again for the next case.
  expectSuccess(await target.up());
  expect((await target.ssh("findmnt -rn -o FSROOT --mountpoint /var/lib/immich")).trim()).toBe("/@immich");
  expectNoChanges(await target.preview());
}, 300_000);

test("destroy removes the mounts and generated modules, restores /var/lib/immich, keeps the subvolume data; a second destroy is a no-op", async () => {
  const destroyed = await target.pulumi(["destroy", "--yes"]);
  expectSuccess(destroyed);
  expect(await target.ssh("findmnt -no TARGET /var/lib/immich || echo none")).toBe("none\n");
  expect(await target.ssh("findmnt -no TARGET /media/immich || echo none")).toBe("none\n");
  expect(await manifest(target, "/var/lib/immich")).toBe(originalManifest);
  expect(await target.ssh("test -e /var/lib/immich.pre-skylab-immich && echo kept-aside || echo restored")).toBe("restored\n");
  expect(await target.ssh("ls /etc/nixos/modules/generated/skylab-immich")).toBe("default.nix\n");
  // The hand-written files are as they were; the system is the one that was active before the first up.
  expect(await target.ssh("cd /etc/nixos && git ls-files | grep -v '^modules/generated/' | xargs sha256sum")).toBe(repoFilesBefore);
  expect(await target.ssh("cd /etc/nixos && git status --porcelain")).toBe("");
  expect(await target.ssh("sha256sum < /run/current-system/config.json")).toBe(systemBefore);
  // Kept data: the subvolume and the migrated files are still on MEDIAS.
  const kept = await target.ssh("mkdir -p /run/check && mount -o subvolid=5 /dev/disk/by-label/MEDIAS /run/check && ls /run/check/@immich/upload | wc -l; umount /run/check");
  expect(Number(kept.trim())).toBeGreaterThan(0);
  const again = await target.pulumi(["destroy", "--yes"]);
  expectSuccess(again);
  expect(again.output).not.toMatch(/\d+ deleted/);
});
