import { ChildProcess, spawn } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { commandLine } from "./shell";

/** How a script reaches root on the host: logged in as root, or through `sudo -n` (passwordless sudo). */
export type Become = "none" | "sudo";

/** Everything needed to reach one host. `privateKey` is plaintext here: callers keep it a Pulumi secret. */
export interface SshConnection {
  host: string;
  port: number;
  user: string;
  /** The host's public key in authorized_keys format (`ssh-ed25519 AAAA...`): the only key accepted. */
  hostKey: string;
  privateKey: string;
  become: Become;
}

export interface RemoteResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  /** Bytes for the script's standard input: the only way secrets travel. */
  stdin?: string;
  /** Called with each complete line the script writes to stderr (progress reporting). */
  onStderrLine?: (line: string) => void;
  timeoutMs?: number;
  /**
   * The run's control socket (lib/sshMaster.ts): the step goes through that master while it is alive and
   * connects by itself when it is not. Omitted: a connection of its own, never a master's (the apply's
   * confirmation proves the host is still reachable, so it must be new).
   */
  controlPath?: string;
  /** With `controlPath`: this connection becomes the run's master (the host look), kept by ControlPersist. */
  master?: boolean;
}

/**
 * Idle seconds after which a master with no session ends by itself. The program closes its master when it
 * exits; this is only the net for a program killed before it could (SIGKILL), short so that a master never
 * outlives its run by much, long enough to bridge the engine's pauses between two steps.
 */
export const CONTROL_PERSIST_SECONDS = 30;

/**
 * How a connection uses the run's control socket. A step is a client only (ControlMaster=no): with no
 * socket, or one nobody answers, ssh connects by itself with every option given, so a step never creates
 * a master and never waits on a dead one; so it does when the host refuses the master one more session
 * (sshd's MaxSessions, default 10), with the step's stdin untouched (OpenSSH's mux client). The master pins
 * the host key like any connection: it is one.
 */
export function controlOptions(controlPath: string | undefined, master = false): string[] {
  if (!controlPath) return ["-o", "ControlPath=none"];
  if (master) return ["-o", "ControlMaster=yes", "-o", `ControlPath=${controlPath}`, "-o", `ControlPersist=${CONTROL_PERSIST_SECONDS}`];
  return ["-o", "ControlMaster=no", "-o", `ControlPath=${controlPath}`];
}

/** The host-key line for a private known_hosts file that trusts exactly the pinned key. */
export function knownHostsLine(host: string, port: number, hostKey: string): string {
  const [keyType, keyData] = hostKey.trim().split(/\s+/);
  const hostPattern = port === 22 ? host : `[${host}]:${port}`;
  return `${hostPattern} ${keyType} ${keyData}\n`;
}

/**
 * The environment of every ssh child: what ssh needs, nothing else. The program's own environment holds
 * the decrypted stack config (PULUMI_CONFIG) and the engine's settings; no child needs those.
 */
export function sshEnvironment(parent: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: parent.PATH ?? "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" };
  if (parent.HOME) env.HOME = parent.HOME;
  return env;
}

/**
 * OpenSSH arguments that pin the host key and ignore every user or system ssh configuration; `control` are
 * the connection-sharing options (controlOptions), none by default.
 */
export function sshArguments(conn: SshConnection, keyFile: string, knownHostsFile: string, control: string[] = []): string[] {
  const keyType = conn.hostKey.trim().split(/\s+/)[0];
  return [
    "-F", "/dev/null",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", `IdentityFile=${keyFile}`,
    "-o", `UserKnownHostsFile=${knownHostsFile}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `HostKeyAlgorithms=${keyType}`,
    "-o", "ConnectTimeout=15",
    "-o", "ServerAliveInterval=10",
    "-o", "ServerAliveCountMax=3",
    "-o", "LogLevel=ERROR",
    ...control,
    "-p", String(conn.port),
    "-l", conn.user,
    conn.host,
  ];
}

/** The remote command line: bash runs the script text given as one quoted argument, as root. */
export function remoteCommand(script: string, become: Become): string {
  const argv = become === "sudo" ? ["sudo", "-n", "--", "bash", "-c", script] : ["bash", "-c", script];
  return commandLine(argv);
}

/**
 * ssh clients this process started that are still running. When the process ends (the engine gone: see
 * toolchain/exit-with-engine.js), they end too: an orphaned client would keep a remote step going that
 * nobody follows any more.
 */
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGTERM");
});

/** Ends `child` (an ssh client) when this process ends, if it is still running then. */
export function endsWithThisProcess(child: ChildProcess): ChildProcess {
  running.add(child);
  child.on("exit", () => running.delete(child));
  child.on("error", () => running.delete(child));
  return child;
}

/** The files one ssh process reads: the private key and the pinned host key. */
export interface SshFiles {
  keyFile: string;
  knownHostsFile: string;
  /** Removes both (and their folder); safe to call more than once. */
  remove(): void;
}

/**
 * Writes the private key and the known_hosts line 0600 in a private temporary folder (`<prefix>XXXXXX`) for
 * the one ssh process about to start; the caller removes them as soon as ssh no longer needs them.
 */
export function writeSshFiles(conn: SshConnection, prefix: string): SshFiles {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const keyFile = join(dir, "id");
  const knownHostsFile = join(dir, "known_hosts");
  writeFileSync(keyFile, conn.privateKey.endsWith("\n") ? conn.privateKey : `${conn.privateKey}\n`, { mode: 0o600 });
  writeFileSync(knownHostsFile, knownHostsLine(conn.host, conn.port, conn.hostKey), { mode: 0o600 });
  return { keyFile, knownHostsFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs a script on the host with the pinned host key, over the run's shared connection when
 * `options.controlPath` names a live master, else over a connection of its own. The script text carries
 * no secrets (values reach it through a quoted preamble); secrets go through `stdin`.
 */
export function runRemoteScript(conn: SshConnection, script: string, options: RunOptions = {}): Promise<RemoteResult> {
  const files = writeSshFiles(conn, "skylab-ssh-");
  const { keyFile, knownHostsFile } = files;
  const control = controlOptions(options.controlPath, options.master);
  const args = [...sshArguments(conn, keyFile, knownHostsFile, control), remoteCommand(script, conn.become)];
  return new Promise<RemoteResult>((resolve, reject) => {
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"], env: sshEnvironment() });
    endsWithThisProcess(child);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let pending = "";
    let timedOut = false;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGTERM");
        }, options.timeoutMs)
      : undefined;
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr.push(chunk);
      if (!options.onStderrLine) return;
      pending += chunk.toString("utf8");
      const lines = pending.split(/\r?\n|\r/);
      pending = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) options.onStderrLine(line);
    });
    child.on("error", (err) => {
      if (timer) clearTimeout(timer);
      files.remove();
      reject(new Error(`could not start ssh: ${err.message} (is openssh-client installed?)`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      files.remove();
      if (options.onStderrLine && pending.trim()) options.onStderrLine(pending);
      const err = Buffer.concat(stderr).toString("utf8");
      resolve({
        stdout: Buffer.concat(stdout).toString("utf8"),
        // Like timeout(1): a script that hung is not mistaken for an SSH failure (255).
        stderr: timedOut ? `${err}timed out after ${options.timeoutMs} ms\n` : err,
        code: timedOut ? TIMEOUT_EXIT_CODE : code ?? (signal ? SSH_FAILURE_EXIT_CODE : 1),
      });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.stdin ?? "");
  });
}

/** ssh exits 255 for its own failures (connection, authentication, host key), never for the script's. */
export const SSH_FAILURE_EXIT_CODE = 255;

/** What runRemoteScript reports when `timeoutMs` ran out (the exit code timeout(1) uses). */
export const TIMEOUT_EXIT_CODE = 124;

/** A one-line explanation of an ssh-level failure, naming the setting to check. */
export function describeSshFailure(conn: SshConnection, stderr: string): string {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|No .* host key is known/i.test(stderr)) {
    return `the host key of ${conn.host}:${conn.port} does not match \`host.hostKey\`: check it with ` +
      "`ssh-keyscan` on a trusted network and update the stack config";
  }
  if (/Permission denied/i.test(stderr)) {
    return `${conn.user}@${conn.host} refused the key in \`sshPrivateKey\`: add its public key to the user's authorized_keys`;
  }
  return `could not reach ${conn.user}@${conn.host}:${conn.port} over SSH: ${stderr.trim().split("\n").pop() ?? ""}`;
}
