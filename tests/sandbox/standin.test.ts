/**
 * Proves the nixos-rebuild stand-in evaluates the real Nix files, keeps generations, realizes
 * fileSystems entries as mounts with exactly the declared options, and rolls back.
 */
import { sandboxDown, sandboxSsh, sandboxUp } from "../../sandbox";
import { uniqueName } from "./host";

const name = uniqueName("standin");

async function run(command: string): Promise<string> {
  const result = await sandboxSsh(name, command);
  if (result.code !== 0) throw new Error(`${command} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

const generationLinks = () => run("cd /nix/var/nix/profiles && ls -d system-*-link | sort -V | tr '\\n' ' '");
const currentSystem = () => run("readlink /run/current-system");
const profile = () => run("readlink /nix/var/nix/profiles/system");

/** Adds a module to configuration.nix's imports and commits it. */
async function addModule(file: string, text: string): Promise<void> {
  await sandboxSsh(name, `cd /etc/nixos && cat > ${file} && sed -i 's|    ./modules/services/immich.nix|&\\n    ./${file}|' configuration.nix && git add -A && git commit -qm 'add ${file}'`, { input: text });
}

const storageModule = `{ config, lib, ... }:
{
  fileSystems."/srv/x" = {
    device = "/dev/disk/by-label/MEDIAS";
    fsType = "btrfs";
    options = [ "subvol=@x" "compress=zstd" "noatime" ];
  };
  fileSystems."/media/immich" = lib.mkIf config.services.nginx.enable {
    device = "/home/zipang/Pictures/Digicam";
    fsType = "none";
    options = [ "bind" "ro" ];
  };
}
`;

let generation1: string;

beforeAll(async () => {
  await sandboxUp(name);
  generation1 = await currentSystem();
});

afterAll(async () => {
  await sandboxDown(name);
});

test("the sandbox starts at generation 1, made by the stand-in from the fixture configuration", async () => {
  expect(await generationLinks()).toBe("system-1-link ");
  expect(await profile()).toBe("system-1-link\n");
  expect(generation1).toBe(await run("readlink /nix/var/nix/profiles/system-1-link"));
  expect(generation1).toMatch(/^\/nix\/store\/[0-9a-f]{32}-nixos-system-skylab-standin\n$/);
  const commit = await run("git -C /etc/nixos rev-parse HEAD");
  expect(await run("jq -r .revision.commit /run/current-system/system.json")).toBe(commit);
});

test("a Nix syntax error fails the rebuild with nix-instantiate's message and makes no generation", async () => {
  await addModule("modules/system/broken.nix", "{ fileSystems.\"/srv/broken\" = ; }\n");
  const result = await sandboxSsh(name, "nixos-rebuild switch");
  expect(result.code).toBe(1);
  expect(result.stderr).toContain("error: syntax error, unexpected ';'");
  expect(result.stderr).toContain("/etc/nixos/modules/system/broken.nix:1:");
  expect(await generationLinks()).toBe("system-1-link ");
  expect(await currentSystem()).toBe(generation1);
  await run("cd /etc/nixos && git revert --no-edit HEAD >/dev/null");
});

test("conflicting definitions fail evaluation as on NixOS", async () => {
  await addModule("modules/system/conflict.nix", "{ networking.hostName = \"elsewhere\"; }\n");
  const result = await sandboxSsh(name, "nixos-rebuild dry-build");
  expect(result.code).toBe(1);
  expect(result.stderr).toContain("The option `networking.hostName' has conflicting definition values:");
  expect(result.stderr).toContain("- In `/etc/nixos/modules/system/conflict.nix': \"elsewhere\"");
  await run("cd /etc/nixos && git revert --no-edit HEAD >/dev/null");
  expect(await generationLinks()).toBe("system-1-link ");
});

test("switch makes generation 2 and mounts each fileSystems entry with exactly its options", async () => {
  await run("btrfs -q subvolume create /mnt/medias/@x");
  await addModule("modules/system/x.nix", storageModule);
  const dry = await run("nixos-rebuild dry-activate");
  expect(dry).toContain("would mount /srv/x (/dev/disk/by-label/MEDIAS, btrfs, subvol=@x,compress=zstd,noatime)\n");
  expect(dry).toContain("would mount /media/immich (/home/zipang/Pictures/Digicam, none, bind,ro)\n");
  expect(await run("findmnt -n /srv/x || echo absent")).toBe("absent\n");

  const result = await run("nixos-rebuild switch");
  expect(result).toContain("created generation 2:");
  expect(await generationLinks()).toBe("system-1-link system-2-link ");
  expect(await profile()).toBe("system-2-link\n");
  expect(await currentSystem()).toBe(await run("readlink /nix/var/nix/profiles/system-2-link"));
  expect(await currentSystem()).not.toBe(generation1);
  expect(await run("jq -c '.fileSystems[\"/srv/x\"].options' /run/current-system/config.json")).toBe('["subvol=@x","compress=zstd","noatime"]\n');

  const [source, fsType, options] = (await run("findmnt -n -o SOURCE,FSTYPE,OPTIONS /srv/x")).trim().split(/\s+/);
  expect([source, fsType]).toEqual([`${await run("readlink -f /dev/disk/by-label/MEDIAS").then((s) => s.trim())}[/@x]`, "btrfs"]);
  expect(options.split(",")).toEqual(expect.arrayContaining(["rw", "noatime", "subvol=/@x"]));
  // compress is filesystem-wide: MEDIAS was mounted first without it (see FACTS.md, BTRFS).
  expect(options).not.toContain("compress");
  expect((await run("findmnt -n -o OPTIONS /media/immich")).split(",")[0]).toBe("ro");
  // As on NixOS: fileSystems → /etc/fstab → daemon-reload → mount units of the sandbox's systemd.
  expect(await run("grep ' /srv/x ' /etc/fstab")).toBe("/dev/disk/by-label/MEDIAS /srv/x btrfs subvol=@x,compress=zstd,noatime 0 0\n");
  expect(result).toContain("mounted /srv/x (/dev/disk/by-label/MEDIAS, btrfs, subvol=@x,compress=zstd,noatime) [started srv-x.mount]\n");
  expect(await run("systemctl is-active srv-x.mount media-immich.mount")).toBe("active\nactive\n");
  expect(await run("systemctl show -p FragmentPath --value srv-x.mount")).toBe("/run/systemd/generator/srv-x.mount\n");
  expect(await run("touch /media/immich/new 2>&1 || true")).toContain("Read-only file system");
});

test("activating the same configuration twice changes nothing and says so", async () => {
  const before = await run("findmnt -rn -o TARGET | sort | md5sum");
  const result = await run("nixos-rebuild switch");
  expect(result).toContain("no change: generation 2 already is /nix/store/");
  expect(result).toContain("no change: /nix/store/");
  expect(result).not.toMatch(/^(mounted|unmounted|created|wrote)/m);
  expect(await generationLinks()).toBe("system-1-link system-2-link ");
  expect(await run("findmnt -rn -o TARGET | sort | md5sum")).toBe(before);
  expect(await run("nixos-rebuild dry-activate")).toContain("no change: activating this configuration would change nothing\n");
});

test("what is declared but not emulated is listed", async () => {
  const status = JSON.parse(await run("nixos-rebuild-standin status"));
  expect(status.notRealized).toEqual(["environment.systemPackages", "networking.firewall", "system.stateVersion", "time.timeZone"]);
  // services.nginx is realized: a real unit of the sandbox's systemd, serving the fixture's vhost.
  expect(await run("systemctl is-active nginx.service")).toBe("active\n");
  expect(Object.keys(status.managed.mounts).sort()).toEqual(["/home/zipang/Pictures", "/media/immich", "/mnt/medias", "/srv/x"]);
});

test("switch --rollback returns /run/current-system and the mounts to generation 1", async () => {
  const result = await run("nixos-rebuild switch --rollback");
  expect(result).toContain("switching profile to generation 1\n");
  expect(result).toContain("unmounted /srv/x (stopped srv-x.mount)\n");
  expect(await currentSystem()).toBe(generation1);
  expect(await profile()).toBe("system-1-link\n");
  expect(await run("findmnt -n /srv/x || echo absent; findmnt -n /media/immich || echo absent")).toBe("absent\nabsent\n");
  expect((await run("findmnt -n -o OPTIONS /mnt/medias")).split(",")).toContain("subvolid=5");
  expect(await run("findmnt -n -o TARGET /home/zipang/Pictures")).toBe("/home/zipang/Pictures\n");
});

test("every invocation is recorded with its arguments and result", async () => {
  const entries = (await run("cat /var/log/nixos-rebuild-standin.log")).trim().split("\n").map((line) => JSON.parse(line));
  const summary = entries.map((entry) => [entry.args.join(" "), entry.exitCode]);
  expect(summary).toEqual([
    ["switch", 0], // generation 1, at sandbox:up
    ["switch", 1], // syntax error
    ["dry-build", 1], // conflict
    ["dry-activate", 0],
    ["switch", 0],
    ["switch", 0],
    ["dry-activate", 0],
    ["switch --rollback", 0],
  ]);
  for (const entry of entries) expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});
