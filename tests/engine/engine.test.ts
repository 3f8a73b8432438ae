/**
 * The real engine end to end (issue: foundation): the pinned CLI runs a TypeScript program through the
 * project's language host, a remote script through the dynamic-provider plugin over SSH to a sandbox
 * host, and a policy pack. Nothing is downloaded: plugin acquisition is disabled and PULUMI_HOME starts empty.
 */
import { mkdtempSync, readdirSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { readFileSync } from "fs";
import { sandboxDown, sandboxSsh, sandboxUp, SandboxConnection } from "../../sandbox";
import { pulumiEnv, runPulumi } from "../../sandbox/stack";
import { spawn } from "child_process";

const SANDBOX = "engine1";
const program = path.join(__dirname, "fixture");
const policyPack = path.join(__dirname, "fixture-policy");
const home = mkdtempSync(path.join(tmpdir(), "skylab-engine-home-"));
const backend = mkdtempSync(path.join(tmpdir(), "skylab-engine-state-"));
const env = { PULUMI_HOME: home, PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "engine-test" };
const pulumi = (args: string[], input?: string) => {
  const end = args.includes("--") ? args.indexOf("--") : args.length;
  return runPulumi([...args.slice(0, end), "--stack", "smoke", ...args.slice(end)], { cwd: program, env, input });
};

let conn: SandboxConnection;

beforeAll(async () => {
  conn = await sandboxUp(SANDBOX);
  const init = await runPulumi(["stack", "init", "smoke"], { cwd: program, env });
  expect(init.output).toContain("Created stack 'smoke'");
  for (const [key, value] of [["address", conn.address], ["hostKey", conn.hostPublicKey], ["greeting", "hello 'quoted' $HOME"]]) {
    expect((await pulumi(["config", "set", key, "--", value])).code).toBe(0);
  }
  expect((await pulumi(["config", "set", "--secret", "privateKey"], readFileSync(conn.privateKeyPath, "utf8"))).code).toBe(0);
});

afterAll(async () => {
  await pulumi(["destroy", "--yes"]);
  await sandboxDown(SANDBOX);
  rmSync(home, { recursive: true, force: true });
  rmSync(backend, { recursive: true, force: true });
  rmSync(path.join(program, "Pulumi.smoke.yaml"), { force: true });
});

test("pulumi version is the pinned v3.248.0", async () => {
  const result = await runPulumi(["version"], { env });
  expect(result.stdout.trim()).toBe("v3.248.0");
});

test("preview plans the remote script without running it", async () => {
  const result = await pulumi(["preview"]);
  expect(result.code).toBe(0);
  expect(result.output).toMatch(/\+\s+pulumi-nodejs:dynamic\/skylab:RemoteScript hello create/);
  const onHost = await sandboxSsh(SANDBOX, "test -e /root/engine-smoke && echo present || echo absent");
  expect(onHost.stdout.trim()).toBe("absent");
});

test("up runs the script over SSH and its real output becomes a stack output", async () => {
  const result = await pulumi(["up", "--yes"]);
  expect(result.code).toBe(0);
  const output = await pulumi(["stack", "output", "greeting"]);
  expect(output.stdout.trim()).toBe("hello 'quoted' $HOME from skylab");
  expect((await sandboxSsh(SANDBOX, "cat /root/engine-smoke")).stdout.trim()).toBe("created");
});

test("a second up changes nothing", async () => {
  const result = await pulumi(["up", "--yes"]);
  expect(result.code).toBe(0);
  expect(result.output).toMatch(/2 unchanged/);
});

test("a policy pack runs and its violation fails the preview", async () => {
  const result = await pulumi(["preview", "--policy-pack", policyPack]);
  expect(result.code).not.toBe(0);
  expect(result.output).toContain("smoke-disallow-remote-scripts");
  expect(result.output).toContain("remote script hello is not allowed by the smoke policy");
});

test("destroy runs the delete script; a second destroy is a no-op", async () => {
  const first = await pulumi(["destroy", "--yes"]);
  expect(first.code).toBe(0);
  expect(first.output).toMatch(/2 deleted/);
  expect((await sandboxSsh(SANDBOX, "test -e /root/engine-smoke && echo present || echo absent")).stdout.trim()).toBe("absent");
  const second = await pulumi(["destroy", "--yes"]);
  expect(second.code).toBe(0);
  expect(second.output).not.toMatch(/RemoteScript hello deleted/);
  expect(second.output).not.toMatch(/\d+ deleted/);
});

test("nothing was downloaded: no plugin was installed into the fresh PULUMI_HOME", () => {
  const plugins = path.join(home, "plugins");
  const installed = (() => {
    try {
      return readdirSync(plugins).filter((entry) => !entry.endsWith(".lock"));
    } catch {
      return [];
    }
  })();
  expect(installed).toEqual([]);
});

/** Processes whose parent is `parent`, with their command lines ("" when one exits meanwhile). */
function children(parent: number): { pid: number; args: string }[] {
  const found: { pid: number; args: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== parent) continue;
      found.push({ pid: Number(entry), args: readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ") });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Running (a zombie has ended; it only waits to be reaped by PID 1). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !["Z", "X"].includes(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
  } catch {
    return false;
  }
};

test("the CLI killed with SIGKILL leaves no language host, program or dynamic provider behind", async () => {
  const cli = spawn("pulumi", ["--non-interactive", "preview", "--stack", "smoke"], {
    cwd: program, env: pulumiEnv(env), stdio: ["ignore", "ignore", "ignore"],
  });
  const exited = new Promise((resolve) => cli.on("exit", resolve));
  // Waits for the plugins to be there (the event: the provider starts last), then kills the CLI.
  const seen = new Map<string, { pid: number; args: string }>();
  for (let i = 0; i < 1500 && !seen.has("provider"); i++) {
    const plugins = children(cli.pid!);
    const host = plugins.find((p) => p.args.includes("toolchain/language-host.js"));
    if (host) seen.set("language host", host);
    const provider = plugins.find((p) => p.args.includes("cmd/dynamic-provider"));
    if (provider) seen.set("provider", provider);
    const hostPid = seen.get("language host")?.pid;
    const programProcess = hostPid ? children(hostPid).find((p) => p.args.includes("cmd/run")) : undefined;
    if (programProcess) seen.set("program", programProcess);
    if (!seen.has("provider")) await new Promise((r) => setTimeout(r, 20));
  }
  // Positive control: the search found the plugins while the CLI ran (the program too, unless it had
  // already finished its part).
  expect([seen.has("language host"), seen.has("provider")]).toStrictEqual([true, true]);
  process.kill(cli.pid!, "SIGKILL");
  await exited;
  const left = [...seen.values()];
  for (let i = 0; i < 300 && left.some((p) => alive(p.pid)); i++) await new Promise((r) => setTimeout(r, 100));
  expect(left.filter((p) => alive(p.pid)).map((p) => p.args)).toStrictEqual([]);
}, 120_000);
