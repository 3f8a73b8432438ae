/**
 * One SSH connection per host per run (issue 15). The host look opens an OpenSSH control master; every
 * later remote step of the run, in the program and in the dynamic provider's process, goes through it; the
 * apply's confirmation alone opens a new connection (it proves the host is still reachable). sshd's log
 * counts the connections (`Accepted publickey`). After every run — converged, failed or interrupted —
 * neither a control socket nor a process connected to the host is left. A master whose connection drops
 * fails the step in flight and the next one connects by itself; a wrong host key is still refused before
 * anything runs.
 */
import { execFileSync, spawn } from "child_process";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { readConnection, SandboxConnection } from "../../sandbox";
import { pulumiEnv } from "../../sandbox/stack";
import { runRemoteScript, SSH_FAILURE_EXIT_CODE, SshConnection } from "../../lib/remote/ssh";
import { closeMaster, controlFolderPath, controlPath, masterPid, processRuns } from "../../lib/remote/sshMaster";
import { openTunnel } from "../../lib/remote/tunnel";
import { expectNoChanges, expectSuccess, Target } from "./helpers";

const target = new Target("conn1");
let sandbox: SandboxConnection;
/** The runs' temporary folder (TMPDIR), so that the control sockets of this suite's runs are the only ones in it. */
let runTmp: string;
const runEnv = (): NodeJS.ProcessEnv => ({ TMPDIR: runTmp });
const controlFolder = (): string => controlFolderPath(runTmp);

/** Control sockets in the runs' control folder. */
function controlSockets(folder = controlFolder()): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  return names.filter((name) => {
    try {
      return lstatSync(join(folder, name)).isSocket();
    } catch {
      return false;
    }
  });
}

/** "command pid" of every process on this machine with a TCP connection to the sandbox's sshd. */
function processesConnectedToSandbox(): string[] {
  const out = execFileSync("ss", ["-Htnp", "dst", sandbox.address, "dport", "=", `:${sandbox.port}`], { encoding: "utf8" });
  return out.split("\n").filter(Boolean).flatMap((line) => [...line.matchAll(/\("([^"]+)",pid=(\d+)/g)].map((m) => `${m[1]} ${m[2]}`));
}

/** Samples sockets and connected processes every 40 ms while a run goes on: what was there during the run. */
class Sampler {
  readonly sockets = new Set<string>();
  readonly processes = new Set<string>();
  samples = 0;
  private readonly timer = setInterval(() => this.sample(), 40);

  sample(): void {
    for (const s of controlSockets()) this.sockets.add(s);
    for (const p of processesConnectedToSandbox()) this.processes.add(p);
    this.samples += 1;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Runs pulumi with the suite's TMPDIR while sampling what exists during the run. */
async function observed(args: string[]): Promise<{ result: Awaited<ReturnType<Target["pulumi"]>>; sampler: Sampler }> {
  const sampler = new Sampler();
  try {
    return { result: await target.pulumi(args, runEnv()), sampler };
  } finally {
    sampler.stop();
  }
}

/**
 * Nothing of the run's master is left. The positive controls: during the run the same searches found its
 * socket and an ssh process connected to the host, so finding nothing now means they are gone.
 */
function expectNothingLeft(sampler: Sampler): void {
  expect(sampler.sockets.size).toBeGreaterThan(0);
  expect([...sampler.processes].some((p) => p.startsWith("ssh "))).toBe(true);
  expect(controlSockets()).toStrictEqual([]);
  expect(processesConnectedToSandbox()).toStrictEqual([]);
}

const UP = ["up", "--yes", "--skip-preview"];

beforeAll(async () => {
  runTmp = mkdtempSync(join(tmpdir(), "skylab-conn-test-"));
  await target.create();
  sandbox = readConnection(target.sandbox);
}, 300_000);

afterAll(async () => {
  await target.destroy();
  rmSync(runTmp, { recursive: true, force: true });
}, 300_000);

/** The RemoteScript resources in the stack's state. */
async function remoteScripts(): Promise<number> {
  const exported = JSON.parse((await target.pulumi(["stack", "export"])).stdout) as { deployment: { resources?: { type: string }[] } };
  return (exported.deployment.resources ?? []).filter((r) => r.type.endsWith(":RemoteScript")).length;
}

test("a first converge opens one connection for every step plus the confirmation's, and leaves nothing behind", async () => {
  const before = target.acceptedConnections();
  const commandsBefore = target.remoteCommands();
  const { result, sampler } = await observed(UP);
  expectSuccess(result);
  expect(result.output).toMatch(/\d+ created/);
  expect(target.acceptedConnections() - before).toBe(2);
  // Every script did run: the look, each RemoteScript's create, the confirmation — on those two connections.
  const scripts = await remoteScripts();
  expect(scripts).toBeGreaterThan(5);
  expect(target.remoteCommands() - commandsBefore).toBe(1 + scripts + 1);
  expectNothingLeft(sampler);
}, 300_000);

test("a no-op up opens exactly one connection and leaves nothing behind", async () => {
  const before = target.acceptedConnections();
  const commandsBefore = target.remoteCommands();
  const { result, sampler } = await observed(UP);
  expectNoChanges(result);
  expect(target.acceptedConnections() - before).toBe(1);
  // The look alone ran: nothing that modifies the host.
  expect(target.remoteCommands() - commandsBefore).toBe(1);
  expectNothingLeft(sampler);
}, 300_000);

test("a no-op preview opens exactly one connection and leaves nothing behind", async () => {
  const before = target.acceptedConnections();
  const { result, sampler } = await observed(["preview"]);
  expectNoChanges(result);
  expect(target.acceptedConnections() - before).toBe(1);
  expectNothingLeft(sampler);
}, 300_000);

let uploadSize = 60000;
/** A real change for the next up: the vhost's upload limit. */
async function withChange(): Promise<void> {
  uploadSize += 1;
  await target.reconfigure({ config: { nginx: { clientMaxBodySize: `${uploadSize}M` } } });
}

test("an up whose activation fails uses the one connection and leaves nothing behind", async () => {
  await withChange();
  await target.ssh("touch /etc/nixos-rebuild-standin/fail-next-activation");
  const before = target.acceptedConnections();
  const { result, sampler } = await observed(UP);
  expect(result.code).not.toBe(0);
  expect(result.output).toContain("the host was restored");
  // No confirmation was reached: the look's connection carried every step.
  expect(target.acceptedConnections() - before).toBe(1);
  expectNothingLeft(sampler);
  expectSuccess(await target.pulumi(UP, runEnv()));
}, 300_000);

/** Processes of this checkout's plugins (language host, program, dynamic provider). */
function pluginProcesses(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (processRuns(Number(entry)) && args.includes(process.cwd()) && /language-host\.js|cmd\/dynamic-provider|cmd\/run\/index\.js/.test(args)) {
        found.push(args);
      }
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Polls `condition` (every 50 ms, at most `tries` times) until it holds; returns whether it did. */
async function eventually(condition: () => boolean | Promise<boolean>, tries = 400): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return condition();
}

test("an up interrupted with SIGINT during activation leaves nothing behind once its processes have ended", async () => {
  await withChange();
  await target.ssh("echo 6 > /etc/nixos-rebuild-standin/delay-next-activation");
  const sampler = new Sampler();
  try {
    const cli = spawn("pulumi", ["--non-interactive", ...UP, "--stack", target.stack], {
      env: pulumiEnv(runEnv()), stdio: ["ignore", "ignore", "ignore"],
    });
    const exited = new Promise<void>((resolve) => cli.on("exit", () => resolve()));
    const activating = await eventually(
      async () => (await target.sshResult("cat /var/lib/skylab-immich/apply/status-* 2>/dev/null")).stdout.includes("activating"),
      1200,
    );
    expect(activating).toBe(true);
    process.kill(cli.pid!, "SIGINT");
    await exited;
    // The program and the provider end on their own once the CLI is gone; the master goes with them.
    expect(await eventually(() => pluginProcesses().length === 0)).toBe(true);
  } finally {
    sampler.stop();
  }
  expectNothingLeft(sampler);
  // The apply job ends one way or the other (confirmed, or rolled back by the host); then up converges.
  expect(await eventually(async () => /done|rolled-back/.test(
    (await target.sshResult("ls -t /var/lib/skylab-immich/apply/status-* | head -1 | xargs cat")).stdout), 1200)).toBe(true);
  await target.pulumi(["cancel", "--yes"]);
  expectSuccess(await target.pulumi(UP, runEnv()));
  expectNoChanges(await target.pulumi(UP, runEnv()));
}, 300_000);

describe("the shared connection itself (lib/ssh.ts and lib/sshMaster.ts against the sandbox's sshd)", () => {
  let folder: string;
  let conn: SshConnection;
  let path: string;

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), "skylab-mux-test-"));
    conn = {
      host: sandbox.address, port: sandbox.port, user: "root", hostKey: sandbox.hostPublicKey,
      privateKey: readFileSync(sandbox.privateKeyPath, "utf8"), become: "none",
    };
    path = controlPath(conn, "suite-run", folder)!;
  });

  afterEach(() => {
    closeMaster(conn, path, masterPid(conn, path));
  });

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  async function openMaster(): Promise<number> {
    const opened = await runRemoteScript(conn, "echo look\n", { controlPath: path, master: true, timeoutMs: 60_000 });
    expect(opened).toStrictEqual({ stdout: "look\n", stderr: "", code: 0 });
    const pid = masterPid(conn, path);
    expect(pid).toBeGreaterThan(0);
    return pid!;
  }

  test("steps go through the master: one connection for the look and three steps", async () => {
    const before = target.acceptedConnections();
    await openMaster();
    const steps = await Promise.all([1, 2, 3].map((n) => runRemoteScript(conn, `echo step ${n}\n`, { controlPath: path })));
    expect(steps.map((s) => s.stdout)).toStrictEqual(["step 1\n", "step 2\n", "step 3\n"]);
    expect(target.acceptedConnections() - before).toBe(1);
    // Without the control path (the confirmation): a connection of its own.
    expect((await runRemoteScript(conn, "echo new\n")).stdout).toBe("new\n");
    expect(target.acceptedConnections() - before).toBe(2);
  }, 120_000);

  test("closing: the master ends, its socket goes; the next step connects by itself", async () => {
    const pid = await openMaster();
    expect(controlSockets(folder)).toStrictEqual([path.slice(folder.length + 1)]);
    expect(processRuns(pid)).toBe(true);
    closeMaster(conn, path, pid);
    expect(processRuns(pid)).toBe(false);
    expect(controlSockets(folder)).toStrictEqual([]);
    const before = target.acceptedConnections();
    expect((await runRemoteScript(conn, "echo after\n", { controlPath: path })).stdout).toBe("after\n");
    expect(target.acceptedConnections() - before).toBe(1);
  }, 120_000);

  test("the connection cut under a step: that step fails at once with ssh's 255, the next one connects by itself", async () => {
    const pid = await openMaster();
    // The sshd process serving the master's connection, inside the sandbox (found by the master's local port;
    // ss prints state, queues, local and peer address).
    const local = execFileSync("ss", ["-Htnp", "dst", sandbox.address, "dport", "=", `:${sandbox.port}`], { encoding: "utf8" })
      .split("\n").find((l) => l.includes(`pid=${pid},`))!.trim().split(/\s+/)[3];
    const localPort = local.slice(local.lastIndexOf(":") + 1);
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const inFlight = runRemoteScript(conn, "echo started >&2\nsleep 50\necho never\n", {
      controlPath: path, timeoutMs: 55_000, onStderrLine: (line) => line === "started" && started(),
    });
    await running;
    // Seen from the sandbox's network namespace; its processes are visible (and pids valid) on this machine.
    const serving = execFileSync("ip", ["netns", "exec", sandbox.netns, "ss", "-Htnp", "dst", `${sandbox.hostAddress}:${localPort}`], { encoding: "utf8" });
    const server = /\("sshd",pid=(\d+)/.exec(serving)?.[1];
    expect({ serving, found: server !== undefined }).toStrictEqual({ serving, found: true });
    process.kill(Number(server), "SIGTERM");
    const cut = await inFlight;
    // 255, not the timeout's 124: the step did not hang.
    expect(cut.code).toBe(SSH_FAILURE_EXIT_CODE);
    expect(cut.stdout).toBe("");
    expect(await eventually(() => !processRuns(pid))).toBe(true);
    const before = target.acceptedConnections();
    expect((await runRemoteScript(conn, "echo reconnected\n", { controlPath: path })).stdout).toBe("reconnected\n");
    expect(target.acceptedConnections() - before).toBe(1);
  }, 120_000);

  test("a master killed outright (its socket left behind): the next step connects by itself", async () => {
    const pid = await openMaster();
    process.kill(pid, "SIGKILL");
    expect(await eventually(() => !processRuns(pid))).toBe(true);
    expect(controlSockets(folder)).toStrictEqual([path.slice(folder.length + 1)]);
    const before = target.acceptedConnections();
    const step = await runRemoteScript(conn, "echo reconnected\n", { controlPath: path });
    expect(step.stdout).toBe("reconnected\n");
    expect(step.code).toBe(0);
    expect(target.acceptedConnections() - before).toBe(1);
    // Closing clears the socket nobody answers.
    closeMaster(conn, path, undefined);
    expect(controlSockets(folder)).toStrictEqual([]);
  }, 120_000);

  test("a step pinning another host key never finds the master: it is refused before it logs in", async () => {
    await openMaster();
    const wrong = { ...conn, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKd7x9kq0ZfV8tQ3mPp5vN2wY7cR4sL6hJ1aB3eD5fG7" };
    const wrongPath = controlPath(wrong, "suite-run", folder)!;
    expect(wrongPath).not.toBe(path);
    const before = target.acceptedConnections();
    const refused = await runRemoteScript(wrong, "touch /tmp/ran-with-wrong-key\n", { controlPath: wrongPath });
    expect(refused.code).toBe(SSH_FAILURE_EXIT_CODE);
    expect(refused.stderr).toContain("Host key verification failed.");
    expect(target.acceptedConnections() - before).toBe(0);
    expect(await target.ssh("test -e /tmp/ran-with-wrong-key && echo ran || echo not-run")).toBe("not-run\n");
    // Opening a master with the wrong key is refused the same way, and leaves no socket.
    const master = await runRemoteScript(wrong, "touch /tmp/ran-with-wrong-key\n", { controlPath: wrongPath, master: true });
    expect(master.code).toBe(SSH_FAILURE_EXIT_CODE);
    expect(controlSockets(folder)).toStrictEqual([path.slice(folder.length + 1)]);
    expect(await target.ssh("test -e /tmp/ran-with-wrong-key && echo ran || echo not-run")).toBe("not-run\n");
  }, 120_000);

  /** A process that opens the master as the program does (closeOnExit), then ends by `end`. */
  const CHILD = `
const { runRemoteScript } = require("./lib/remote/ssh");
const { closeOnExit, masterPid } = require("./lib/remote/sshMaster");
let input = "";
process.stdin.on("data", (d) => (input += d)).on("end", async () => {
  const { conn, path, end } = JSON.parse(input);
  const look = await runRemoteScript(conn, "echo look\\n", { controlPath: path, master: true });
  closeOnExit(conn, path, masterPid(conn, path));
  process.stdout.write("ready " + look.stdout);
  // "exit": the test's SIGUSR2 asks for a plain process.exit, once it has seen the master.
  if (end === "exit") process.on("SIGUSR2", () => process.exit(3));
  setInterval(() => undefined, 1000);
});`;

  test.each<[string, "exit" | NodeJS.Signals]>([
    ["ends with process.exit", "exit"],
    ["is sent SIGTERM", "SIGTERM"],
    ["is sent SIGINT", "SIGINT"],
    ["is sent SIGHUP", "SIGHUP"],
  ])("a program that %s closes its master on the way out, and ends as it would have", async (_name, end) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", CHILD], { stdio: ["pipe", "pipe", "inherit"] });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })));
    const ready = new Promise<string>((resolve) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d;
        if (out.endsWith("\n")) resolve(out);
      });
    });
    child.stdin!.end(JSON.stringify({ conn, path, end }));
    expect(await ready).toBe("ready look\n");
    // Positive control: the master the child opened is there, found by the same searches.
    const pid = masterPid(conn, path);
    expect(pid).toBeGreaterThan(0);
    expect(controlSockets(folder)).toStrictEqual([path.slice(folder.length + 1)]);
    child.kill(end === "exit" ? "SIGUSR2" : end);
    expect(await exited).toStrictEqual(end === "exit" ? { code: 3, signal: null } : { code: null, signal: end });
    expect(processRuns(pid!)).toBe(false);
    expect(masterPid(conn, path)).toBeUndefined();
    expect(controlSockets(folder)).toStrictEqual([]);
  }, 120_000);

  test("the Immich tunnel rides on the master (no new connection) and is cancelled on close", async () => {
    await openMaster();
    const before = target.acceptedConnections();
    // The sandbox's sshd listens on its own address only.
    const tunnel = await openTunnel(conn, sandbox.address, sandbox.port, path);
    const port = Number(new URL(tunnel.baseUrl).port);
    // The sandbox's sshd greets through the forward.
    const banner = execFileSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}; head -c 8 <&3`], { encoding: "utf8" });
    expect(banner).toBe("SSH-2.0-");
    expect(target.acceptedConnections() - before).toBe(0);
    tunnel.close();
    const closed = execFileSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port} && echo open || echo closed`], { encoding: "utf8" });
    expect(closed.trim()).toBe("closed");
  }, 120_000);
});
