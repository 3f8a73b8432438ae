/**
 * Proves that two sandboxes coexist without seeing each other, and that `down` (also twice, and
 * after a half-made `up`) leaves no namespace, loop device, mount, process or file behind.
 */
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { sandboxDown, sandboxSsh, sandboxUp, SandboxConnection } from "../../sandbox";
import { host, processAlive, processesWithMountsMentioning, uniqueName } from "./host";

const first = uniqueName("life-a");
const second = uniqueName("life-b");
const script = path.resolve(__dirname, "../../sandbox/sandbox.sh");
let a: SandboxConnection;
let b: SandboxConnection;

async function run(name: string, command: string): Promise<string> {
  const result = await sandboxSsh(name, command);
  if (result.code !== 0) throw new Error(`${command} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** What nspawn leaves on this machine, read while the sandbox exists (its state folder goes with it). */
const nspawnLeftovers = new Map<string, { lock: string; cgroups: string[] }>();
function leftoversOf(connection: SandboxConnection): { lock: string; cgroups: string[] } {
  const key = `${connection.name}:${connection.pid}`;
  if (!nspawnLeftovers.has(key)) {
    nspawnLeftovers.set(key, {
      lock: `/run/systemd/nspawn/locks/${readFileSync(path.join(connection.stateDir, "nspawn-lock"), "utf8").trim()}`,
      cgroups: readFileSync(path.join(connection.stateDir, "cgroups"), "utf8").split("\n").filter(Boolean),
    });
  }
  return nspawnLeftovers.get(key)!;
}

function traces(connection: SandboxConnection): Record<string, unknown> {
  const index = connection.address.split(".")[2];
  const { lock, cgroups } = leftoversOf(connection);
  return {
    nspawnLock: existsSync(lock),
    cgroups: cgroups.length > 0 && cgroups.some((dir) => existsSync(dir)),
    netns: host("ip", ["netns", "list"]).stdout.split("\n").some((line) => line.split(" ")[0] === connection.netns),
    veth: host("ip", ["link", "show", `skysbx${index}h`]).code === 0,
    address: host("ip", ["-o", "addr", "show"]).stdout.includes(`${connection.hostAddress}/30`),
    loop: host("losetup", ["-n", "-O", "BACK-FILE", connection.mediasDevice]).stdout.includes(connection.stateDir),
    process: processAlive(connection.pid),
    mounts: processesWithMountsMentioning(connection.stateDir).length > 0,
    files: existsSync(connection.stateDir),
  };
}

const allThere = { nspawnLock: true, cgroups: true, netns: true, veth: true, address: true, loop: true, process: true, mounts: true, files: true };
const noneThere = { nspawnLock: false, cgroups: false, netns: false, veth: false, address: false, loop: false, process: false, mounts: false, files: false };

beforeAll(async () => {
  a = await sandboxUp(first);
  b = await sandboxUp(second, { size: "200M", configRepo: "/srv/nixos-config" });
});

afterAll(async () => {
  await sandboxDown(first);
  await sandboxDown(second);
});

test("two sandboxes have distinct addresses, keys and MEDIAS devices", () => {
  expect(a.address).not.toBe(b.address);
  expect(a.hostPublicKey).not.toBe(b.hostPublicKey);
  expect(a.mediasDevice).not.toBe(b.mediasDevice);
  expect(traces(a)).toEqual(allThere);
  expect(traces(b)).toEqual(allThere);
});

test("each sandbox sees its own MEDIAS and its own files", async () => {
  expect(await run(first, "readlink -f /dev/disk/by-label/MEDIAS")).toBe(`${a.mediasDevice}\n`);
  expect(await run(second, "readlink -f /dev/disk/by-label/MEDIAS")).toBe(`${b.mediasDevice}\n`);
  expect(await run(first, "blockdev --getsize64 /dev/disk/by-label/MEDIAS")).toBe(`${256 * 1024 * 1024}\n`);
  expect(await run(second, "blockdev --getsize64 /dev/disk/by-label/MEDIAS")).toBe(`${200 * 1024 * 1024}\n`);
  await run(first, "echo from-a > /mnt/medias/marker && echo from-a > /etc/marker");
  expect(await run(first, "cat /mnt/medias/marker /etc/marker")).toBe("from-a\nfrom-a\n");
  expect(await run(second, "ls /mnt/medias/marker /etc/marker 2>&1 | grep -c 'No such file'")).toBe("2\n");
  expect(await run(first, "btrfs filesystem show -m /mnt/medias | grep -c \"Label: 'MEDIAS'\"")).toBe("1\n");
});

test("--config-repo puts the configuration elsewhere and the stand-in follows it", async () => {
  expect(b.configRepo).toBe("/srv/nixos-config");
  expect(await run(second, "git -C /srv/nixos-config rev-list --count HEAD; test -e /etc/nixos || echo no-etc-nixos")).toBe("2\nno-etc-nixos\n");
  expect(await run(second, "jq -r .configFile /run/current-system/system.json")).toBe("/srv/nixos-config/configuration.nix\n");
});

test("a sandbox whose sshd died counts as half-made: up recreates it", async () => {
  process.kill(b.pid, "SIGKILL");
  const again = host("bash", [script, "up", "--name", second]);
  expect(again.code).toBe(0);
  expect(again.stderr).toContain(`sandbox ${second} is half-made: removing it first`);
  const fresh = JSON.parse(again.stdout) as SandboxConnection;
  expect(fresh.pid).not.toBe(b.pid);
  expect(fresh.hostPublicKey).not.toBe(b.hostPublicKey);
  expect(await run(second, "readlink /nix/var/nix/profiles/system")).toBe("system-1-link\n");
  b = fresh;
});

test("down removes every trace of the sandbox, and only of that sandbox", async () => {
  await run(first, "sleep 300 >/dev/null 2>&1 & echo started");
  const sessionPids = host("ip", ["netns", "pids", a.netns]).stdout.trim().split("\n").map(Number);
  expect(sessionPids.length).toBeGreaterThanOrEqual(2);

  const result = await sandboxDown(first);
  expect(result.stderr).toBe(`sandbox ${first} is down\n`);
  expect(traces(a)).toEqual(noneThere);
  expect(sessionPids.filter(processAlive)).toEqual([]);
  expect(host("losetup", ["-a"]).stdout).not.toContain(a.stateDir);
  expect(host("findmnt", ["-rn", "-o", "TARGET"]).stdout).not.toContain(a.stateDir);

  expect(traces(b)).toEqual(allThere);
  expect(await run(second, "echo still-here")).toBe("still-here\n");
});

test("down twice is fine", async () => {
  const again = await sandboxDown(first);
  expect(again).toEqual({ stdout: "", stderr: `sandbox ${first} does not exist: nothing to do\n`, code: 0 });
});

test("down after a half-failed up (namespace and loop device, no sshd) removes them", async () => {
  await sandboxDown(second);
  expect(traces(b)).toEqual(noneThere);
  // Simulate `up` dying after the loop device and the namespace were made.
  const state = b.stateDir;
  host("mkdir", ["-p", state]);
  host("sh", ["-c", 'echo 250 > "$1/index" && truncate -s 200M "$1/medias.img"', "sh", state]);
  const loop = host("losetup", ["--find", "--show", path.join(state, "medias.img")]).stdout.trim();
  expect(host("ip", ["netns", "add", b.netns]).code).toBe(0);
  const result = await sandboxDown(second);
  expect(result.code).toBe(0);
  expect(host("losetup", ["-n", "-O", "BACK-FILE", loop]).stdout).not.toContain(state);
  expect(host("ip", ["netns", "list"]).stdout).not.toContain(b.netns);
  expect(existsSync(state)).toBe(false);
});
