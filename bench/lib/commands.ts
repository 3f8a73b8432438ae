/**
 * Timed commands for the bench: the pinned Pulumi CLI with the project's offline environment, scripts over
 * SSH to a sandbox (exactly as the program connects: pinned host key, no user configuration), and plain
 * local processes. Times come from process.hrtime, taken around the child process from spawn to exit.
 */
import { spawn } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { readConnection, SandboxConnection } from "../../sandbox";
import { pulumiEnv, repoRoot } from "../../sandbox/stack";
import { scriptWithArgs } from "../../lib/remote/shell";
import { remoteCommand, SshConnection, sshArguments } from "../../lib/remote/ssh";

export { repoRoot };

export function now(): bigint {
  return process.hrtime.bigint();
}

export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export interface Timed {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
  seconds: number;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Called right after the child starts, with its PID (memory sampling). */
  onSpawn?: (pid: number) => void;
  /** Called with each complete stderr line and the seconds since the start. */
  onStderrLine?: (line: string, seconds: number) => void;
}

export function timedSpawn(command: string, args: string[], options: SpawnOptions = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const start = now();
    const child = spawn(command, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = "";
    let stderr = "";
    let output = "";
    let pending = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      output += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
      output += d;
      if (!options.onStderrLine) return;
      pending += d.toString("utf8");
      const lines = pending.split(/\r?\n|\r/);
      pending = lines.pop() ?? "";
      for (const line of lines) options.onStderrLine(line, secondsSince(start));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const seconds = secondsSince(start);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, output, seconds });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** The pinned `pulumi` (on PATH through pulumiEnv) with the offline environment; never throws on exit codes. */
export function pulumi(args: string[], options: SpawnOptions = {}): Promise<Timed> {
  return timedSpawn("pulumi", ["--non-interactive", ...args], { ...options, env: pulumiEnv(options.env ?? {}) });
}

export function mustSucceed(what: string, result: Timed): Timed {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.output.slice(-4000)}`);
  return result;
}

/** The connection the program would use for a sandbox (the private key read from the sandbox's state). */
export function programConnection(conn: SandboxConnection): SshConnection {
  return {
    host: conn.address,
    port: conn.port,
    user: "root",
    hostKey: conn.hostPublicKey,
    privateKey: readFileSync(conn.privateKeyPath, "utf8"),
    become: "none",
  };
}

/**
 * Runs a script as root on a sandbox over ONE SSH connection, with its values as a quoted preamble
 * (lib/shell's scriptWithArgs, as the program does) and optional bytes on stdin.
 */
export function sandboxScript(
  sandbox: string, script: string, values: Record<string, string> = {}, options: Omit<SpawnOptions, "env" | "cwd"> = {},
): Promise<Timed> {
  const conn = readConnection(sandbox);
  const ssh: SshConnection = { host: conn.address, port: conn.port, user: "root", hostKey: conn.hostPublicKey, privateKey: "", become: "none" };
  const args = [...sshArguments(ssh, conn.privateKeyPath, conn.knownHostsPath), remoteCommand(scriptWithArgs(script, values), "none")];
  return timedSpawn("ssh", args, options);
}

export async function mustScript(sandbox: string, what: string, script: string, values: Record<string, string> = {}, input?: string | Buffer): Promise<string> {
  return mustSucceed(`${what} on ${sandbox}`, await sandboxScript(sandbox, script, values, { input })).stdout;
}

/** Connections the sandbox's sshd has accepted so far (each remote script and the host look open one). */
export function acceptedConnections(sandbox: string): number {
  const log = readFileSync(readConnection(sandbox).sshdLog, "utf8");
  return (log.match(/Accepted publickey/g) ?? []).length;
}

export function benchFile(...parts: string[]): string {
  return path.join(repoRoot, "bench", ...parts);
}

export function readBenchFile(...parts: string[]): string {
  return readFileSync(benchFile(...parts), "utf8");
}

/** Resources the engine reports as changed ("+ 2 to create", "~ 1 updated", …); 0 for a no-op run. */
export function changedResources(output: string): number {
  let changed = 0;
  const summary = output.slice(output.lastIndexOf("Resources:"));
  for (const match of summary.matchAll(/^\s*[+~±-]?\s*(\d+) (to create|to update|to delete|to replace|created|updated|deleted|replaced)\s*$/gm)) {
    changed += Number(match[1]);
  }
  return changed;
}

/** "N unchanged" from the engine's summary, or NaN. */
export function unchangedResources(output: string): number {
  const match = /(\d+) unchanged/.exec(output.slice(output.lastIndexOf("Resources:")));
  return match ? Number(match[1]) : Number.NaN;
}
