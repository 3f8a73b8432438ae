// One SSH connection per host per run: an OpenSSH control master that the host look opens and every later
// remote step of the same run reuses, from the program's process and from the dynamic providers' process.
//
// The two processes find the same control socket without being told: its name is derived from the engine's
// address, which the engine hands to the program (PULUMI_NODEJS_ENGINE) and to every provider it starts for
// that operation (their first argument), and from the connection. The address is per operation: a preview,
// and each phase of an up, has its own, and so its own program run and its own master. Nothing about it
// goes into the resources' inputs or the state.
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { lstatSync, mkdirSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { sshEnvironment, SshConnection } from "./ssh";

/** An engine address as the engine passes it (`127.0.0.1:40123`). */
const ENGINE_ADDRESS = /^[\w.-]+:\d{1,5}$/;

/**
 * sun_path holds 108 bytes on Linux; a master binds `<path>.<16 random characters>` before linking it to
 * `<path>`, so the path must leave room for that.
 */
const MAX_CONTROL_PATH = 108 - 1 - 17;

/**
 * What identifies this process's run: the address of the engine that started it. The program gets it in
 * PULUMI_NODEJS_ENGINE (set by @pulumi/pulumi's cmd/run), a dynamic provider as its first argument
 * (@pulumi/pulumi's cmd/dynamic-provider). Undefined outside the engine (tests, scripts): no sharing then.
 */
export function runKey(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv): string | undefined {
  const program = env.PULUMI_NODEJS_ENGINE;
  if (program && ENGINE_ADDRESS.test(program)) return program;
  const provider = argv[2];
  if (provider && ENGINE_ADDRESS.test(provider)) return provider;
  return undefined;
}

/** This user's folder of control sockets: `<tmpdir>/skylab-immich-ssh-<uid>`. */
export function controlFolderPath(base: string = tmpdir(), uid: number = process.getuid?.() ?? 0): string {
  return join(base, `skylab-immich-ssh-${uid}`);
}

/**
 * The control-socket folder, created 0700 if missing, or undefined when it is not safe to use. A control
 * socket lets whoever can connect to it run commands on the host as the login user, so the folder must be
 * a real directory (not a symlink), owned by us and closed to everyone else — the checks tmux makes of
 * /tmp/tmux-<uid> before it trusts it. Someone who planted the folder first only costs us the sharing.
 */
export function privateControlFolder(base: string = tmpdir()): string | undefined {
  const uid = process.getuid?.() ?? 0;
  const dir = controlFolderPath(base, uid);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") return undefined;
  }
  try {
    const found = lstatSync(dir);
    if (!found.isDirectory() || found.uid !== uid || (found.mode & 0o077) !== 0) return undefined;
  } catch {
    return undefined;
  }
  return dir;
}

/**
 * The control socket of the run `key` for `conn`, in `folder`. Everything the master pinned is in the name
 * (host, port, user and host key): a step that pins another key never finds this master, so it makes its
 * own connection and is refused. Undefined when the path would be too long or would need quoting.
 */
export function controlPath(conn: SshConnection, key: string, folder: string): string | undefined {
  const [keyType, keyData] = conn.hostKey.trim().split(/\s+/);
  const digest = createHash("sha256")
    .update(JSON.stringify([key, conn.host, conn.port, conn.user, keyType, keyData]))
    .digest("hex")
    .slice(0, 32);
  const path = join(folder, digest);
  // ssh expands %-tokens in ControlPath and splits option values at whitespace.
  if (path.length > MAX_CONTROL_PATH || /[\s%"'\\]/.test(path)) return undefined;
  return path;
}

/** The control socket this process's run shares for `conn`, or undefined (no run key, no safe folder). */
export function sharedControlPath(conn: SshConnection, key: string | undefined = runKey()): string | undefined {
  if (!key) return undefined;
  const folder = privateControlFolder();
  return folder ? controlPath(conn, key, folder) : undefined;
}

/**
 * `ssh -O <command>` to the master at `path` (with `-L <localForward>` for forward/cancel): its exit code
 * and stderr. Talks to the local socket only, never to the host.
 */
export function controlCommand(
  conn: SshConnection, path: string, command: "check" | "stop" | "exit" | "forward" | "cancel", localForward?: string,
): { code: number; stderr: string } {
  const forward = localForward ? ["-L", localForward] : [];
  const result = spawnSync(
    "ssh",
    ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", `ControlPath=${path}`, "-O", command, ...forward, "-p", String(conn.port), "-l", conn.user, conn.host],
    { env: sshEnvironment(), stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", timeout: 10_000 },
  );
  return { code: result.status ?? 255, stderr: result.stderr ?? "" };
}

/** The pid of the master listening at `path`, or undefined when none answers. */
export function masterPid(conn: SshConnection, path: string): number | undefined {
  const { code, stderr } = controlCommand(conn, path, "check");
  const pid = /Master running \(pid=(\d+)\)/.exec(stderr)?.[1];
  return code === 0 && pid ? Number(pid) : undefined;
}

/**
 * Makes `path` free for a new master. A socket there is left from an earlier run of the same engine
 * address whose program was killed: its master (if any answers) is ours and is told to exit. ssh refuses to
 * become master over an existing socket and silently carries on unshared, so the socket must go.
 */
export function clearControlPath(conn: SshConnection, path: string): void {
  if (!exists(path)) return;
  if (masterPid(conn, path) !== undefined) controlCommand(conn, path, "exit");
  rmSync(path, { force: true });
}

/**
 * Closes the master at `path` for good: it stops accepting sessions at once (its socket goes) and ends as
 * soon as the sessions still running end, so a step in flight in another process is not cut. Waits (at most
 * `waitMs`) for the master to be gone, so that after the program nothing of it is left.
 */
export function closeMaster(conn: SshConnection, path: string, pid: number | undefined, waitMs = 3000): void {
  controlCommand(conn, path, "stop");
  if (pid !== undefined) waitUntilGone(pid, waitMs);
  // A socket whose master died without cleaning up (SIGKILL) answers nobody; remove it.
  if (exists(path) && masterPid(conn, path) === undefined) rmSync(path, { force: true });
}

/** Whether process `pid` still runs (a zombie does not: it has closed everything). */
export function processRuns(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !["Z", "X"].includes(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
  } catch {
    return false;
  }
}

function waitUntilGone(pid: number, waitMs: number): void {
  // Synchronous on purpose: this runs in the program's `exit` handler, where nothing asynchronous runs.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; processRuns(pid) && waited < waitMs; waited += 10) Atomics.wait(pause, 0, 0, 10);
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Closes `path`'s master when this process ends: normally, by an error, or by a signal that would end it
 * (then, closed, the signal is raised again so the process ends as it would have).
 */
export function closeOnExit(conn: SshConnection, path: string, pid: number | undefined): void {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    closeMaster(conn, path, pid);
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const onSignal = (signal: NodeJS.Signals) => {
    close();
    for (const s of signals) process.removeListener(s, onSignal);
    // Nobody else handles it: the default action (the process ends), as without us.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once("exit", close);
  for (const signal of signals) process.on(signal, onSignal);
}
