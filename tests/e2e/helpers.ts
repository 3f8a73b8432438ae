/** A sandbox SKYLAB with a stack aimed at it, for the end-to-end suites. */
import { ChildProcess, execFileSync, spawn } from "child_process";
import { readdirSync, readFileSync } from "fs";
import { readConnection, sandboxDown, sandboxSsh, sandboxUp, SandboxUpOptions } from "../../sandbox";
import { configureSandboxStack, importGeneratedModules, pulumiEnv, PulumiResult, runPulumi, SandboxStackOptions } from "../../sandbox/stack";

export class Target {
  readonly stack: string;

  /** `stack`: another stack aimed at the same sandbox (a second deployer); default `sandbox-<sandbox>`. */
  constructor(readonly sandbox: string, stack?: string) {
    this.stack = stack ?? `sandbox-${sandbox}`;
  }

  async create(options: SandboxStackOptions & { sandbox?: SandboxUpOptions } = {}): Promise<void> {
    await sandboxUp(this.sandbox, options.sandbox);
    await configureSandboxStack(this.sandbox, this.stack, options);
    await importGeneratedModules(this.sandbox);
  }

  /** Re-aims the stack with other settings (the stack's resources and state are kept). */
  async reconfigure(options: SandboxStackOptions): Promise<void> {
    const state = await this.pulumi(["stack", "export"]);
    await configureSandboxStack(this.sandbox, this.stack, options);
    await runPulumi(["stack", "import", "--stack", this.stack, "--force"], { input: state.stdout });
  }

  pulumi(args: string[], env?: NodeJS.ProcessEnv): Promise<PulumiResult> {
    return runPulumi([...args, "--stack", this.stack], { env });
  }

  preview(...extra: string[]): Promise<PulumiResult> {
    return this.pulumi(["preview", ...extra]);
  }

  up(...extra: string[]): Promise<PulumiResult> {
    return this.pulumi(["up", "--yes", "--skip-preview", ...extra]);
  }

  async ssh(command: string): Promise<string> {
    const result = await sandboxSsh(this.sandbox, command);
    if (result.code !== 0) throw new Error(`on ${this.sandbox}: ${command}\nexit ${result.code}: ${result.stderr}`);
    return result.stdout;
  }

  /** A command's whole result, failing or not. */
  sshResult(command: string): Promise<{ stdout: string; stderr: string; code: number }> {
    return sandboxSsh(this.sandbox, command);
  }

  /**
   * Connections sshd accepted so far (TCP connections with a login). A run opens one, the host look's,
   * which every later remote step shares; the apply's confirmation opens its own.
   */
  acceptedConnections(): number {
    const log = readFileSync(readConnection(this.sandbox).sshdLog, "utf8");
    return (log.match(/Accepted publickey/g) ?? []).length;
  }

  /**
   * Remote commands sshd started so far (`Starting session: command`, one per look, script or confirmation,
   * whichever connection carried it): what a connection count no longer shows once steps share one.
   */
  remoteCommands(): number {
    const log = readFileSync(readConnection(this.sandbox).sshdLog, "utf8");
    return (log.match(/Starting session: command /g) ?? []).length;
  }

  async destroy(): Promise<void> {
    await this.pulumi(["destroy", "--yes"]).catch(() => undefined);
    await runPulumi(["stack", "rm", "--force", "--yes", "--stack", this.stack]).catch(() => undefined);
    await sandboxDown(this.sandbox);
  }
}

/**
 * Every command line on this machine (the sandbox's processes are visible here), sampled every 40 ms
 * while it runs. `samples` and `failures` count the `ps` runs, so a test can show the sampler worked.
 */
export class ProcessSampler {
  readonly lines = new Set<string>();
  samples = 0;
  failures = 0;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => {
      try {
        for (const line of execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n")) this.lines.add(line);
        this.samples += 1;
      } catch {
        this.failures += 1;
      }
    }, 40);
  }

  /** Runs a process of our own with `marker` in its command line until the sampler has seen it. */
  async positiveControl(marker: string): Promise<boolean> {
    const control = spawn("bash", ["-c", "sleep 30 & wait", marker]);
    try {
      for (let i = 0; i < 500 && ![...this.lines].some((l) => l.includes(marker)); i++) await new Promise((r) => setTimeout(r, 20));
      return [...this.lines].some((l) => l.includes(marker));
    } finally {
      control.kill("SIGKILL");
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** What "the last good state" is made of: the active system, the config repo's commit, the mounts. */
export async function hostState(target: Target): Promise<{ system: string; head: string; mounts: string }> {
  return {
    system: (await target.ssh("readlink -f /run/current-system")).trim(),
    head: (await target.ssh("git -C /etc/nixos rev-parse HEAD")).trim(),
    mounts: await target.ssh("findmnt -rn -o TARGET,OPTIONS | grep -E '^/(var/lib/immich|media/immich|mnt/medias)' | sort"),
  };
}

/** "Resources: N unchanged" and no create/update/delete/replace lines. */
export function expectNoChanges(result: PulumiResult): void {
  if (result.code !== 0) throw new Error(`pulumi failed:\n${result.output}`);
  const changed = result.output.split("\n").filter((l) => /^\s*[+~-]\s+\S+:\S+/.test(l) || /(to create|to update|to delete|to replace|created|updated|deleted|replaced)$/.test(l.trim()));
  expect(changed).toEqual([]);
  expect(result.output).toMatch(/\d+ unchanged/);
}

export function expectSuccess(result: PulumiResult): void {
  if (result.code !== 0) throw new Error(`pulumi failed (exit ${result.code}):\n${result.output}`);
}

/**
 * Content of a directory tree as lines: type, path, mode, owner, size, sha256 / link target, xattrs,
 * and hard-link groups; equal manifests mean the same data.
 */
export const MANIFEST_SCRIPT = `set -euo pipefail
cd "$1"
find . -mindepth 1 -printf '%y %p %m %U:%G %l\\n' | sort
find . -type f -printf '%p %s %T@\\n' | sort
find . -type f -print0 | sort -z | xargs -0 -r sha256sum
find . -type f -links +1 -printf '%i %p\\n' | sort | awk '{g[$1]=g[$1]" "$2} END {for (i in g) print "hardlinks" g[i]}' | sort
getfattr -R -d -m '^user\\.' --absolute-names . 2>/dev/null | grep -v '^$' || true
`;

export async function manifest(target: Target, dir: string): Promise<string> {
  return target.ssh(`bash -c ${shellWord(MANIFEST_SCRIPT)} manifest ${shellWord(dir)}`);
}

export function shellWord(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/**
 * Polls `probe` until `done` holds for what it returned, at most `tries` times `intervalMs` apart (an
 * event with a bound, never a fixed sleep); throws with the last value otherwise.
 */
export async function waitFor<T>(
  what: string, probe: () => Promise<T> | T, done: (value: T) => boolean, tries = 300, intervalMs = 200,
): Promise<T> {
  let value = await probe();
  for (let i = 1; i < tries && !done(value); i++) {
    await new Promise((r) => setTimeout(r, intervalMs));
    value = await probe();
  }
  if (!done(value)) throw new Error(`waited in vain for ${what}; last seen: ${JSON.stringify(value)}`);
  return value;
}

/** A `pulumi up` of the target's stack as a process of its own, to be interrupted by a test. */
export function startUp(target: Target): { cli: ChildProcess; exited: Promise<number | null> } {
  const cli = spawn("pulumi", ["--non-interactive", "up", "--yes", "--skip-preview", "--stack", target.stack], {
    env: pulumiEnv(), stdio: ["ignore", "ignore", "ignore"],
  });
  return { cli, exited: new Promise((resolve) => cli.on("exit", (code) => resolve(code))) };
}

/** The apply jobs' tokens on the host now (their status files): taken before an up, to tell its job apart. */
export async function applyJobs(target: Target): Promise<string[]> {
  const out = await target.ssh("cd /var/lib/skylab-immich/apply 2>/dev/null && ls status-* 2>/dev/null | sed 's/^status-//' || true");
  return out.split("\n").filter(Boolean);
}

/**
 * The status of the apply job an up started: the one job whose token is not in `before` (waited for until
 * it appears). Earlier jobs' statuses (the host keeps the last five) never count.
 */
export async function newJobStatus(target: Target, before: string[]): Promise<{ token: string; status: () => Promise<string> }> {
  const jobs = await waitFor("the up's apply job", () => applyJobs(target), (now) => now.some((t) => !before.includes(t)), 600);
  const token = jobs.filter((t) => !before.includes(t))[0];
  return { token, status: () => target.ssh(`cat /var/lib/skylab-immich/apply/status-${token}`).then((s) => s.trim()) };
}

/** The statuses of the apply jobs on the host (starting, activating, ..., done, rolled-back). */
export async function applyStatuses(target: Target): Promise<string> {
  return target.ssh("cat /var/lib/skylab-immich/apply/status-* 2>/dev/null | sort -u");
}

/** PIDs (as seen here) of the migration's copy running in the sandbox: rsync with its progress option. */
export function migrationCopyPids(target: Target): number[] {
  const netns = readConnection(target.sandbox).netns;
  const found: number[] = [];
  for (const pid of execFileSync("ip", ["netns", "pids", netns], { encoding: "utf8" }).split("\n").filter(Boolean)) {
    try {
      // "pid (comm) state ...": a zombie has already finished its work.
      const match = /^\d+ \((.*)\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"));
      // The host look runs `rsync --version` too: only the copy has --info=progress2.
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (match && match[1] === "rsync" && !["Z", "X"].includes(match[2]) && args.includes("--info=progress2")) found.push(Number(pid));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/**
 * Processes this checkout started for the engine that are still running: the language host, the
 * program, the dynamic provider, and their ssh clients to `address` (whose key files are in
 * skylab-ssh-* or skylab-tunnel-* folders).
 */
export function checkoutProcesses(address: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const running = !["Z", "X"].includes(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
      const plugin = args.includes(process.cwd()) && /language-host\.js|cmd\/dynamic-provider|cmd\/run\/index\.js/.test(args);
      const sshClient = /^ssh /.test(args) && /\/skylab-(ssh|tunnel)-/.test(args) && args.split(" ").includes(address);
      if (running && (plugin || sshClient)) found.push(args);
    } catch {
      // exited while we looked
    }
  }
  return found;
}
