/**
 * Two deployers, one host, tried as a new user would: two stacks aimed at the same SKYLAB, `up` at the same
 * moment, each with another upload limit. Every `up` that reports success has its own configuration running
 * (its verification's last check: the running system is the one it activated from its own commit, and that
 * commit holds its settings); the other waited for the host's apply lock or was refused, naming the holder or
 * the module another deployer wrote; no successful commit is lost, also when one activation fails.
 */
import { expectSuccess, hostState, newJobStatus, applyJobs, Target, waitFor } from "./helpers";
import { PulumiResult } from "../../sandbox/stack";

const A = new Target("dep1");
const B = new Target("dep1", "sandbox-dep1-second");
const NGINX = "modules/generated/skylab-immich/nginx.nix";
const timeouts = { confirmTimeoutSeconds: 30, verifyTimeoutSeconds: 60 };
const settings = (size: string, lockWaitSeconds = 300) => ({ config: { nginx: { clientMaxBodySize: size }, nixos: { ...timeouts, lockWaitSeconds } } });

type Report = { check: string; target: string; status: string; detail: string }[];

/** The commit a successful up's report says it activated from (its last check). */
async function activatedCommit(target: Target): Promise<string> {
  const report = JSON.parse((await target.pulumi(["stack", "output", "verification", "--json"])).stdout) as Report;
  const system = report[report.length - 1];
  expect(system.check).toBe("system");
  expect(system.status).toBe("pass");
  const commit = /from commit ([0-9a-f]{12})/.exec(system.detail)?.[1];
  if (!commit) throw new Error(`no commit in ${system.detail}`);
  return commit;
}

/** Each successful up ran its own settings; each other one was refused or waited, saying why. */
async function expectEachOwnConfiguration(runs: [Target, PulumiResult, string][]): Promise<number> {
  let succeeded = 0;
  for (const [target, run, size] of runs) {
    const why = /another apply holds[^.]*|\S+ on the host is not what this stack wrote|activation failed[^;]*; the host was restored|waiting for the apply[^(\n]*/.exec(run.output)?.[0];
    process.stdout.write(`deployers: ${target.stack} ${run.code === 0 ? "succeeded" : "failed"}${why ? ` (${why})` : ""}\n`);
    if (run.code === 0) {
      succeeded += 1;
      const commit = await activatedCommit(target);
      expect(await target.ssh(`git -C /etc/nixos show ${commit}:${NGINX} | grep -o 'client_max_body_size [0-9]*M'`)).toBe(`client_max_body_size ${size}\n`);
      // No successful commit is lost: it is in the history of the repo's HEAD.
      expect((await target.sshResult(`git -C /etc/nixos merge-base --is-ancestor ${commit} HEAD`)).code).toBe(0);
    } else {
      // Refused (the host held by the other, or its module written by the other), or its own activation failed
      // and the host was restored.
      expect(run.output).toMatch(
        /another apply holds (this host|\/etc\/nixos): stack sandbox-dep1[-a-z]* from |on the host is not what this stack wrote|activation failed \(nixos-rebuild test exited 2\); the host was restored/,
      );
    }
  }
  return succeeded;
}

beforeAll(async () => {
  await A.create(settings("61000M"));
  await B.create(settings("62000M"));
  expectSuccess(await A.up());
}, 300_000);

afterAll(async () => {
  await B.pulumi(["stack", "rm", "--force", "--yes"]).catch(() => undefined);
  await A.destroy();
});

test("two stacks up at the same moment on a converged host: each success runs its own configuration, none is misreported", async () => {
  const runs = await Promise.all([A.up(), B.up()]);
  const succeeded = await expectEachOwnConfiguration([[A, runs[0], "61000M"], [B, runs[1], "62000M"]]);
  expect(succeeded).toBeGreaterThanOrEqual(1);
}, 600_000);

test("the same with one activation failing: it rolls back only its own commit, the other's success stays", async () => {
  await A.reconfigure(settings("63000M"));
  await B.reconfigure(settings("64000M"));
  await A.ssh("touch /etc/nixos-rebuild-standin/fail-next-activation");
  const runs = await Promise.all([A.up(), B.up()]);
  await expectEachOwnConfiguration([[A, runs[0], "63000M"], [B, runs[1], "64000M"]]);
  // The injected failure hit one of them (the first to activate): it says the host was restored, and its
  // rollback took back only its own commit (each success's commit is in HEAD's history, checked above).
  expect(runs.filter((r) => r.output.includes("activation failed (nixos-rebuild test exited 2); the host was restored"))).toHaveLength(1);
  expect(await A.ssh("test -e /etc/nixos-rebuild-standin/fail-next-activation && echo left || echo used")).toBe("used\n");
}, 600_000);

test("an apply in flight: the other deployer waits with progress naming the holder, or is refused after lockWaitSeconds; then converges", async () => {
  await A.reconfigure(settings("65000M"));
  await B.reconfigure(settings("66000M", 2));
  // A's activation takes 20 s: its job holds the host meanwhile.
  await A.ssh("echo 20 > /etc/nixos-rebuild-standin/delay-next-activation");
  const jobs = await applyJobs(A);
  const running = A.up();
  const job = await newJobStatus(A, jobs);
  await waitFor("A's job to activate", job.status, (s) => s === "activating");
  const before = await hostState(B);
  const refused = await B.up();
  expect(refused.code).not.toBe(0);
  expect(refused.output).toMatch(/another apply holds (this host|\/etc\/nixos): stack sandbox-dep1 from [^,]+@[^,]+, since \d{4}-\d\d-\d\dT/);
  expect(await hostState(B)).toEqual(before);
  expectSuccess(await running);
  expect(await activatedCommit(A)).toMatch(/^[0-9a-f]{12}$/);
  // With time to wait, B waits for A's next apply and then converges with its own settings.
  await B.reconfigure(settings("66000M", 300));
  await A.reconfigure(settings("67000M"));
  await A.ssh("echo 15 > /etc/nixos-rebuild-standin/delay-next-activation");
  const jobs2 = await applyJobs(A);
  const second = A.up();
  const job2 = await newJobStatus(A, jobs2);
  await waitFor("A's job to activate", job2.status, (s) => s === "activating");
  const waited = await B.up();
  expectSuccess(waited);
  expect(waited.output).toMatch(/waiting for the apply (that holds this host|that holds \/etc\/nixos|of) ?:? ?stack sandbox-dep1 from /);
  const aResult = await second;
  await expectEachOwnConfiguration([[A, aResult, "67000M"], [B, waited, "66000M"]]);
  // B ran last: its settings are the ones running.
  expect(await B.ssh("grep -c 'client_max_body_size 66000M;' /etc/nginx/nixos-nginx.conf")).toBe("1\n");
}, 600_000);
