/**
 * A fault matrix on one converged sandbox host: each fault is injected, then the host must be in a good
 * state — the last good system, commit and mounts (or the new ones after a successful rerun), every
 * original file's sha256 intact, Immich's data path mounted and Immich answering, no plugin process left,
 * nothing half-staged in the config repo — and a plain `up` converges (the next one changes nothing).
 * The suite prints `faults: N/N ended in a good state`.
 */
import { spawn } from "child_process";
import { readdirSync, readFileSync } from "fs";
import { pulumiEnv } from "../../sandbox/stack";
import { readConnection } from "../../sandbox";
import { expectNoChanges, expectSuccess, hostState, Target } from "./helpers";

const target = new Target("fault1");
const state = () => hostState(target);
const outcomes: { fault: string; good: boolean }[] = [];
type HostState = Awaited<ReturnType<typeof state>>;
/** sha256 of every file of Immich's data (owners and modes are the migration suite's business). */
const DATA_SUMS = "cd /var/lib/immich && find . -type f ! -name '.immich-write-check-*' -print0 | sort -z | xargs -0 sha256sum";
let originalSums = "";

/** Processes of this checkout's plugins (language host, program, dynamic provider), by command line. */
function pluginProcesses(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const running = !["Z", "X"].includes(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
      if (running && args.includes(process.cwd()) && /language-host\.js|cmd\/dynamic-provider|cmd\/run\/index\.js/.test(args)) found.push(args);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** The invariants every fault must end in; each is asserted, and the outcome is recorded for the figure. */
async function expectGoodState(fault: string, last: HostState, converged?: HostState): Promise<void> {
  let good = false;
  try {
    // The last good state, or (a fault the apply finished despite) the state a plain up would reach.
    const now = await state();
    if (converged === undefined || JSON.stringify(now) !== JSON.stringify(converged)) expect(now).toEqual(last);
    expect(await target.ssh(DATA_SUMS)).toBe(originalSums);
    expect((await target.ssh("findmnt -rn -o FSROOT /var/lib/immich")).trim()).toBe("/@immich");
    expect((await target.ssh("systemctl is-active immich-server.service")).trim()).toBe("active");
    expect(await target.ssh("git -C /etc/nixos status --porcelain")).toBe("");
    for (let i = 0; i < 100 && pluginProcesses().length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(pluginProcesses()).toStrictEqual([]);
    good = true;
  } finally {
    outcomes.push({ fault, good });
  }
}

async function converges(): Promise<void> {
  expectSuccess(await target.up());
  expectNoChanges(await target.up());
}

let size = 60000;
/** A real change for the next up: the vhost's upload limit. */
async function withChange(): Promise<void> {
  size += 1;
  await target.reconfigure({ config: { nginx: { clientMaxBodySize: `${size}M` }, nixos: { confirmTimeoutSeconds: 20, verifyTimeoutSeconds: 30 } } });
}

beforeAll(async () => {
  await target.create({ config: { nixos: { confirmTimeoutSeconds: 20, verifyTimeoutSeconds: 30 } } });
  originalSums = await target.ssh(DATA_SUMS);
  expect(originalSums.split("\n").length).toBeGreaterThan(250);
  expectSuccess(await target.up());
}, 300_000);

afterAll(async () => {
  const good = outcomes.filter((o) => o.good).length;
  process.stdout.write(`faults: ${good}/${outcomes.length} ended in a good state\n`);
  for (const o of outcomes) process.stdout.write(`  ${o.good ? "good" : "NOT GOOD"}  ${o.fault}\n`);
  await target.destroy();
});

test("nixos-rebuild fails during activation", async () => {
  const last = await state();
  await withChange();
  await target.ssh("touch /etc/nixos-rebuild-standin/fail-next-activation");
  const failed = await target.up();
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain("the host was restored");
  await expectGoodState("nixos-rebuild fails", last);
  await converges();
}, 300_000);

test("verification fails (the Pictures folder unreadable for Immich)", async () => {
  const last = await state();
  await withChange();
  await target.ssh("chmod 0700 /home/zipang/Pictures/Digicam");
  let failed;
  try {
    failed = await target.up();
  } finally {
    await target.ssh("chmod 0755 /home/zipang/Pictures/Digicam");
  }
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain('"check":"readable-by","target":"/media/immich","status":"fail"');
  await expectGoodState("verification fails", last);
  await converges();
}, 300_000);

test("the host presents another SSH host key", async () => {
  const last = await state();
  const conn = readConnection(target.sandbox);
  await target.reconfigure({ config: { host: { hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKd7x9kq0ZfV8tQ3mPp5vN2wY7cR4sL6hJ1aB3eD5fG7" }, nixos: { confirmTimeoutSeconds: 20, verifyTimeoutSeconds: 30 } } });
  const refused = await target.preview();
  expect(refused.code).not.toBe(0);
  expect(refused.output).toContain(conn.address);
  expect((await target.up()).code).not.toBe(0);
  await withChange();
  await expectGoodState("wrong host key", last);
  await converges();
}, 300_000);

test("MEDIAS is absent", async () => {
  const last = await state();
  await withChange();
  await target.ssh("mv /dev/disk/by-label/MEDIAS /dev/disk/by-label/.MEDIAS-away");
  let refused;
  try {
    refused = await target.up();
  } finally {
    await target.ssh("mv /dev/disk/by-label/.MEDIAS-away /dev/disk/by-label/MEDIAS");
  }
  expect(refused.code).not.toBe(0);
  expect(refused.output).toContain("no filesystem labelled MEDIAS");
  expect(refused.output).toContain("SKYLAB is not ready; nothing was changed");
  await expectGoodState("MEDIAS absent", last);
  await converges();
}, 300_000);

test("the config repo has a hand change outside the owned files", async () => {
  const last = await state();
  await withChange();
  await target.ssh("cd /etc/nixos && echo '# a note' >> configuration.nix");
  const refused = await target.up();
  expect(refused.code).not.toBe(0);
  expect(refused.output).toContain("/etc/nixos has uncommitted changes outside the files skylab-immich owns:");
  expect(await target.ssh("cd /etc/nixos && git status --porcelain")).toBe(" M configuration.nix\n");
  await target.ssh("cd /etc/nixos && git checkout -q configuration.nix");
  await expectGoodState("config repo dirty", last);
  await converges();
}, 300_000);

test("two ups at the same time", async () => {
  await withChange();
  const [a, b] = await Promise.all([target.up(), target.up()]);
  // The stack's lock lets one through at a time: each either converges or is refused by the lock.
  expect([a, b].filter((r) => r.code === 0).length).toBeGreaterThanOrEqual(1);
  for (const refused of [a, b].filter((r) => r.code !== 0)) expect(refused.output).toMatch(/locked/);
  await expectGoodState("concurrent up", await state());
  expectNoChanges(await target.up());
}, 300_000);

test("the pulumi CLI killed with SIGKILL during activation: the host reverts by itself, cancel, rerun", async () => {
  const last = await state();
  await withChange();
  await target.ssh("echo 15 > /etc/nixos-rebuild-standin/delay-next-activation");
  const cli = spawn("pulumi", ["--non-interactive", "up", "--yes", "--skip-preview", "--stack", target.stack], {
    env: pulumiEnv(), stdio: ["ignore", "ignore", "ignore"],
  });
  const exited = new Promise((resolve) => cli.on("exit", resolve));
  let activating = false;
  for (let i = 0; i < 300 && !activating; i++) {
    activating = (await target.ssh("cat /var/lib/skylab-immich/apply/status-* 2>/dev/null | sort -u")).includes("activating");
    if (!activating) await new Promise((r) => setTimeout(r, 200));
  }
  expect(activating).toBe(true);
  process.kill(cli.pid!, "SIGKILL");
  await exited;
  // The deployer is gone: no confirmation comes, so the job rolls the host back itself.
  let rolledBack = "";
  for (let i = 0; i < 120 && !rolledBack.includes("rolled-back"); i++) {
    rolledBack = await target.ssh("cat /var/lib/skylab-immich/apply/status-* | sort -u");
    if (!rolledBack.includes("rolled-back")) await new Promise((r) => setTimeout(r, 500));
  }
  expect(rolledBack).toContain("rolled-back");
  const locked = await target.up();
  expect(locked.code).not.toBe(0);
  expect(locked.output).toContain("pulumi cancel");
  expectSuccess(await target.pulumi(["cancel", "--yes"]));
  await expectGoodState("CLI killed during activation (deployer gone)", last);
  await converges();
}, 300_000);

test("SIGINT (Ctrl-C) during activation: the CLI stops after the step in flight, the host is never half-done", async () => {
  const last = await state();
  await withChange();
  await target.ssh("echo 8 > /etc/nixos-rebuild-standin/delay-next-activation");
  const cli = spawn("pulumi", ["--non-interactive", "up", "--yes", "--skip-preview", "--stack", target.stack], {
    env: pulumiEnv(), stdio: ["ignore", "ignore", "ignore"],
  });
  const exited = new Promise<number | null>((resolve) => cli.on("exit", (code) => resolve(code)));
  let activating = false;
  for (let i = 0; i < 300 && !activating; i++) {
    activating = (await target.ssh("cat /var/lib/skylab-immich/apply/status-* 2>/dev/null | sort -u")).includes("activating");
    if (!activating) await new Promise((r) => setTimeout(r, 200));
  }
  expect(activating).toBe(true);
  process.kill(cli.pid!, "SIGINT");
  await exited;
  // Whatever the CLI did with the interrupt, the apply either finished (confirmed) or the host rolled
  // itself back; wait for the job to end one way or the other.
  let ended = "";
  for (let i = 0; i < 120 && !/done|rolled-back/.test(ended); i++) {
    ended = await target.ssh("ls -t /var/lib/skylab-immich/apply/status-* | head -1 | xargs cat");
    if (!/done|rolled-back/.test(ended)) await new Promise((r) => setTimeout(r, 500));
  }
  expect(ended).toMatch(/done|rolled-back/);
  await target.pulumi(["cancel", "--yes"]);
  const converged = ended.includes("done") ? await state() : undefined;
  // Finished: then the new system and commit are the ones in place.
  if (converged) expect(converged.head).not.toBe(last.head);
  await expectGoodState("SIGINT during activation", last, converged);
  await converges();
}, 300_000);
