/**
 * A fault matrix. Each fault is injected, then the host must be in a good state — the last good system,
 * commit and mounts (or the new ones after a successful rerun), every original file's sha256 intact,
 * Immich's data path usable (its data where the active system expects it) and Immich running, no process
 * of this checkout left (plugins and their ssh clients), nothing half-staged in the config repo — and a
 * plain `up` converges (the next one changes nothing). Faults of the apply run on a converged host,
 * faults of the migration on a host not yet migrated. The suite prints `faults: N/N ended in a good state`.
 */
import { execFileSync } from "child_process";
import { readConnection } from "../../sandbox";
import {
  applyJobs, checkoutProcesses, expectNoChanges, expectSuccess, hostState, migrationCopyPids, newJobStatus, startUp, Target, waitFor,
} from "./helpers";

type HostState = Awaited<ReturnType<typeof hostState>>;
const outcomes: { fault: string; good: boolean }[] = [];
/** Outcomes recorded when the current row started: a row that fails before its check counts as not good. */
let recordedBefore = 0;
/** sha256 of every file of Immich's data (owners and modes are the migration suite's business). */
const DATA_SUMS = "cd /var/lib/immich && find . -type f ! -name '.immich-write-check-*' -print0 | sort -z | xargs -0 sha256sum";
const timeouts = { nixos: { confirmTimeoutSeconds: 20, verifyTimeoutSeconds: 30 } };

interface Host {
  target: Target;
  /** DATA_SUMS before any fault. */
  sums: string;
  /** Is Immich's data on the subvolume in the last good state? */
  migrated: boolean;
}

/** The invariants every fault must end in; each is asserted, and the outcome is recorded for the figure. */
async function expectGoodState(host: Host, fault: string, last: HostState, converged?: HostState): Promise<void> {
  const { target } = host;
  let good = false;
  try {
    // The last good state, or (a fault the apply finished despite) the state a plain up would reach.
    const now = await hostState(target);
    if (converged === undefined || JSON.stringify(now) !== JSON.stringify(converged)) expect(now).toEqual(last);
    expect(await target.ssh(DATA_SUMS)).toBe(host.sums);
    // The data path as the active system expects it: mounted from @immich, or (before the first
    // converge) the original folder itself.
    const fsroot = (await target.ssh("findmnt -rn -o FSROOT --mountpoint /var/lib/immich || true")).trim();
    expect(fsroot).toBe(host.migrated || converged ? "/@immich" : "");
    await waitFor("Immich running", () => target.ssh("systemctl is-active immich-server.service || true"), (s) => s.trim() === "active", 150);
    expect(await target.ssh("git -C /etc/nixos status --porcelain")).toBe("");
    const address = readConnection(target.sandbox).address;
    // Plugins notice within half a second that the engine is gone; give them (and their ssh clients) a bound.
    await waitFor("no process of this checkout", () => checkoutProcesses(address), (found) => found.length === 0, 50);
    good = true;
  } finally {
    outcomes.push({ fault, good });
  }
}

async function converges(target: Target): Promise<void> {
  expectSuccess(await target.up());
  expectNoChanges(await target.up());
}

beforeEach(() => {
  recordedBefore = outcomes.length;
});

afterEach(() => {
  if (outcomes.length === recordedBefore) outcomes.push({ fault: `${expect.getState().currentTestName} (failed before its check)`, good: false });
});

afterAll(() => {
  const good = outcomes.filter((o) => o.good).length;
  process.stdout.write(`faults: ${good}/${outcomes.length} ended in a good state\n`);
  for (const o of outcomes) process.stdout.write(`  ${o.good ? "good" : "NOT GOOD"}  ${o.fault}\n`);
});

describe("faults of the migration, on a host not yet migrated", () => {
  const target = new Target("fault2");
  const host: Host = { target, sums: "", migrated: false };
  const state = () => hostState(target);

  /** Runs `command` inside the sandbox without SSH (fast enough to act while a copy runs). */
  const inside = (command: string) =>
    execFileSync("nsenter", ["-t", String(readConnection(target.sandbox).initPid), "-a", "bash", "-c", command], { encoding: "utf8" });

  beforeAll(async () => {
    // As on SKYLAB before the first up: Immich runs, its data in /var/lib/immich on the root filesystem.
    await target.create({ sandbox: { size: "1G", immichRunning: true }, config: timeouts });
    expect((await target.ssh("systemctl is-active immich-server.service")).trim()).toBe("active");
    // A large file gives the copy a window to be interrupted in.
    await target.ssh("head -c 300M /dev/urandom > '/var/lib/immich/upload/large video.mp4'");
    host.sums = await target.ssh(DATA_SUMS);
    expect(host.sums.split("\n").length).toBeGreaterThan(250);
  }, 300_000);

  afterAll(async () => {
    await target.destroy();
  });

  test("the migration's copy killed with SIGKILL on the host", async () => {
    const last = await state();
    const run = target.up();
    const copy = await waitFor("the migration's copy", () => migrationCopyPids(target), (pids) => pids.length > 0, 3000, 40);
    for (const pid of copy) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // ended between the look and the kill: the rsync's parent fails the same way
      }
    }
    const failed = await run;
    expect(failed.code).not.toBe(0);
    expect(failed.output).toContain("migration of /var/lib/immich to @immich (create) failed");
    expect(failed.output).toContain("nothing was moved: /var/lib/immich still holds the data");
    await expectGoodState(host, "the migration's copy killed", last);
  }, 300_000);

  test("MEDIAS fills up during the copy", async () => {
    const last = await state();
    const run = target.up();
    let failed;
    try {
      await waitFor("the migration's copy", () => migrationCopyPids(target), (pids) => pids.length > 0, 3000, 40);
      // /mnt/medias is MEDIAS' top level in the sandbox: take the space left, half of what df shows at a
      // time (BTRFS' estimate of free space can be larger than what one allocation gets), until < 4 MiB.
      inside(
        "for i in $(seq 40); do free=$(df -B1 --output=avail /mnt/medias | tail -n1 | tr -d ' '); " +
          "[ \"$free\" -gt 4194304 ] || break; fallocate -l $((free / 2)) /mnt/medias/filler-$i || true; done",
      );
    } finally {
      // Whatever happened, the up ends before the next row, and the space comes back: BTRFS frees deleted
      // space at a transaction commit, so wait (an event, bounded) until df shows it.
      failed = await run;
      inside(
        "rm -f /mnt/medias/filler-* && need=$(du -sb /var/lib/immich | cut -f1) && for i in $(seq 100); do " +
          "btrfs filesystem sync /mnt/medias; [ \"$(df -B1 --output=avail /mnt/medias | tail -n1 | tr -d ' ')\" -gt $((need + need / 5)) ] && break; " +
          "sleep 0.1; done",
      );
    }
    expect(failed.code).not.toBe(0);
    expect(failed.output).toContain("MEDIAS is full: the copy of /var/lib/immich stopped");
    expect(failed.output).toContain("Free space on MEDIAS, then run up again");
    await expectGoodState(host, "MEDIAS full during the migration", last);
  }, 300_000);

  test("the pulumi CLI killed with SIGKILL during the migration: cancel as the error says, rerun", async () => {
    const last = await state();
    const { cli, exited } = startUp(target);
    await waitFor("the migration's copy", () => migrationCopyPids(target), (pids) => pids.length > 0, 3000, 40);
    // Positive control for the search for leftovers: while the up runs, it finds the plugins and ssh.
    const address = readConnection(target.sandbox).address;
    const during = checkoutProcesses(address);
    expect(during.some((p) => p.includes("language-host.js"))).toBe(true);
    expect(during.some((p) => /^ssh /.test(p))).toBe(true);
    process.kill(cli.pid!, "SIGKILL");
    await exited;
    // The copy ends with the connection that ran it (its ssh client goes with the provider).
    await waitFor("the copy to end", () => migrationCopyPids(target), (pids) => pids.length === 0, 150);
    const locked = await target.up();
    expect(locked.code).not.toBe(0);
    expect(locked.output).toContain("pulumi cancel");
    expectSuccess(await target.pulumi(["cancel", "--yes"]));
    await expectGoodState(host, "CLI killed during the migration (deployer gone)", last);
    await converges(target);
    host.migrated = true;
    expect((await target.ssh("findmnt -rn -o FSROOT --mountpoint /var/lib/immich")).trim()).toBe("/@immich");
    expect(await target.ssh(DATA_SUMS)).toBe(host.sums);
  }, 300_000);
});

describe("faults of the apply, on a converged host", () => {
  const target = new Target("fault1");
  const host: Host = { target, sums: "", migrated: true };
  const state = () => hostState(target);
  let size = 60000;
  /** A real change for the next up: the vhost's upload limit. */
  async function withChange(): Promise<void> {
    size += 1;
    await target.reconfigure({ config: { nginx: { clientMaxBodySize: `${size}M` }, ...timeouts } });
  }
  /** The up's own apply job (not an earlier one: the host keeps five), once it activates. */
  const activating = async (before: string[]) => {
    const job = await newJobStatus(target, before);
    await waitFor("the apply job to activate", job.status, (s) => s === "activating", 300);
    return job;
  };

  beforeAll(async () => {
    await target.create({ config: timeouts });
    host.sums = await target.ssh(DATA_SUMS);
    expect(host.sums.split("\n").length).toBeGreaterThan(250);
    expectSuccess(await target.up());
  }, 300_000);

  afterAll(async () => {
    await target.destroy();
  });

  test("nixos-rebuild fails during activation", async () => {
    const last = await state();
    await withChange();
    await target.ssh("touch /etc/nixos-rebuild-standin/fail-next-activation");
    const failed = await target.up();
    expect(failed.code).not.toBe(0);
    expect(failed.output).toContain("the host was restored");
    await expectGoodState(host, "nixos-rebuild fails", last);
    await converges(target);
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
    await expectGoodState(host, "verification fails", last);
    await converges(target);
  }, 300_000);

  test("the SSH connection cut during activation: the host rolls itself back when no confirmation comes", async () => {
    const last = await state();
    await withChange();
    await target.ssh("echo 12 > /etc/nixos-rebuild-standin/delay-next-activation");
    const conn = readConnection(target.sandbox);
    const hostInterface = execFileSync("ip", ["-o", "-4", "addr", "show", "to", conn.hostAddress], { encoding: "utf8" }).split(/\s+/)[1];
    const jobs = await applyJobs(target);
    const running = target.up();
    const job = await activating(jobs);
    execFileSync("ip", ["link", "set", hostInterface, "down"]);
    let failed;
    try {
      failed = await running;
    } finally {
      execFileSync("ip", ["link", "set", hostInterface, "up"]);
    }
    expect(failed.code).not.toBe(0);
    expect(failed.output).toContain("was lost while the change was being applied; it is not confirmed, so the host rolls itself back");
    await waitFor("the host to roll itself back", job.status, (s) => s === "rolled-back", 450);
    expect(await target.ssh(`cat /var/lib/skylab-immich/apply/result-${job.token}`)).toContain("no confirmation from the deployer within 20s");
    await expectGoodState(host, "SSH cut during activation", last);
    await converges(target);
  }, 300_000);

  test("the host presents another SSH host key", async () => {
    const last = await state();
    const conn = readConnection(target.sandbox);
    await target.reconfigure({ config: { host: { hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKd7x9kq0ZfV8tQ3mPp5vN2wY7cR4sL6hJ1aB3eD5fG7" }, ...timeouts } });
    const refused = await target.preview();
    expect(refused.code).not.toBe(0);
    // The host-key refusal itself (another SSH failure names the address too, in other words).
    const hostKeyRefusal = `the host key of ${conn.address}:${conn.port} does not match \`host.hostKey\``;
    expect(refused.output).toContain(hostKeyRefusal);
    const up = await target.up();
    expect(up.code).not.toBe(0);
    expect(up.output).toContain(hostKeyRefusal);
    await withChange();
    await expectGoodState(host, "wrong host key", last);
    await converges(target);
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
    await expectGoodState(host, "MEDIAS absent", last);
    await converges(target);
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
    await expectGoodState(host, "config repo dirty", last);
    await converges(target);
  }, 300_000);

  test("two ups at the same time", async () => {
    const last = await state();
    await withChange();
    const [a, b] = await Promise.all([target.up(), target.up()]);
    // The stack's lock lets one through at a time: each either converges or is refused by the lock.
    expect([a, b].filter((r) => r.code === 0).length).toBeGreaterThanOrEqual(1);
    for (const refused of [a, b].filter((r) => r.code !== 0)) expect(refused.output).toMatch(/locked/);
    // The change is what the host runs: a new commit, the new upload limit in nginx's running configuration.
    const converged = await state();
    expect(converged.head).not.toBe(last.head);
    expect(await target.ssh(`grep -c 'client_max_body_size ${size}M;' /etc/nginx/nixos-nginx.conf`)).toBe("1\n");
    await expectGoodState(host, "concurrent up", last, converged);
    expectNoChanges(await target.up());
  }, 300_000);

  test("the pulumi CLI killed with SIGKILL during activation: the host reverts by itself, cancel, rerun", async () => {
    const last = await state();
    await withChange();
    await target.ssh("echo 15 > /etc/nixos-rebuild-standin/delay-next-activation");
    const jobs = await applyJobs(target);
    const { cli, exited } = startUp(target);
    const job = await activating(jobs);
    process.kill(cli.pid!, "SIGKILL");
    await exited;
    // The deployer is gone: no confirmation comes, so the job rolls the host back itself.
    await waitFor("the host to roll itself back", job.status, (s) => s === "rolled-back", 450);
    const locked = await target.up();
    expect(locked.code).not.toBe(0);
    expect(locked.output).toContain("pulumi cancel");
    expectSuccess(await target.pulumi(["cancel", "--yes"]));
    await expectGoodState(host, "CLI killed during activation (deployer gone)", last);
    await converges(target);
  }, 300_000);

  test("SIGINT (Ctrl-C) during activation: the CLI stops after the step in flight, the host is never half-done", async () => {
    const last = await state();
    await withChange();
    await target.ssh("echo 8 > /etc/nixos-rebuild-standin/delay-next-activation");
    const jobs = await applyJobs(target);
    const { cli, exited } = startUp(target);
    const job = await activating(jobs);
    process.kill(cli.pid!, "SIGINT");
    // Ctrl-C stops the engine from starting new steps but lets the one in flight finish: the apply (its
    // provider is not interrupted) is confirmed, and the CLI exits once it is recorded. One outcome: done.
    await exited;
    const ended = await waitFor("the apply job to end", job.status, (s) => s === "done" || s === "rolled-back", 450);
    expect(ended).toBe("done");
    const converged = await state();
    expect(converged.head).not.toBe(last.head);
    expect(await target.ssh(`grep -c 'client_max_body_size ${size}M;' /etc/nginx/nixos-nginx.conf`)).toBe("1\n");
    await expectGoodState(host, "SIGINT during activation", last, converged);
    await converges(target);
  }, 300_000);
});
