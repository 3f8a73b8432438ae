/**
 * Test-side handle on sandbox SKYLAB hosts (sandbox/sandbox.sh). Every call spawns the script with an
 * argument array: no shell string is ever built here.
 */
import { spawn } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";

const sandboxScript = path.join(__dirname, "sandbox.sh");
const repoRoot = path.resolve(__dirname, "..");

/** What `sandbox:up` writes to `.sandbox/NAME/connection.json`. */
export interface SandboxConnection {
  name: string;
  /** The sandbox's own address on its veth pair (10.231.K.2). */
  address: string;
  port: number;
  /** `root` and the admin user. */
  users: string[];
  /** Non-root user with passwordless sudo. */
  adminUser: string;
  privateKeyPath: string;
  /** known_hosts file holding only the sandbox's host key. */
  knownHostsPath: string;
  /** Host public key in authorized_keys format (`ssh-ed25519 AAAA...`), for the program's `hostKey`. */
  hostPublicKey: string;
  configRepo: string;
  /** `flake`: the repo has a flake.nix and nixos-rebuild takes `--flake`; `plain`: configuration.nix. */
  configKind: "plain" | "flake";
  /** Loop device holding this sandbox's MEDIAS filesystem, as seen from this machine. */
  mediasDevice: string;
  mediasLabel: string;
  hostAddress: string;
  netns: string;
  /** PID of the sandbox's systemd-nspawn, the process that holds its namespaces. */
  pid: number;
  /** PID (on this machine) of the systemd that is PID 1 inside the sandbox. */
  initPid: number;
  stateDir: string;
  sshdLog: string;
}

export interface SandboxUpOptions {
  /** Size of the MEDIAS image, e.g. "256M" (the default) or "1G". */
  size?: string;
  /** Where the NixOS configuration repo lives inside the sandbox (default `/etc/nixos`). */
  configRepo?: string;
  /** A flake-shaped config repo: `flake.nix` with `nixosConfigurations.skylab` built from the same modules. */
  flake?: boolean;
  /** The system before the first up already runs Immich (enabled with nixpkgs' defaults) on /var/lib/immich. */
  immichRunning?: boolean;
  /**
   * The owner's starting state (sandbox/README.md): "phase3" is SKYLAB as the owner's plan describes it (the
   * default of `npm run sandbox:up`), "phase1" adds Phase 1 half done; "none" (the default here) has no Immich
   * before the first up. Each test names the starting state it is about.
   */
  owner?: "none" | "phase3" | "phase1";
}

export interface SandboxSshOptions {
  /** `root` (default) or the admin user. */
  user?: string;
  /** Written to the remote command's stdin. */
  input?: string | Buffer;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

function runScript(args: string[], input?: string | Buffer): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [sandboxScript, ...args], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
        code: code ?? (signal ? 128 : 1),
      }),
    );
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

/** Path of a sandbox's state folder (`.sandbox/NAME`). */
export function sandboxStateDir(name: string): string {
  return path.join(repoRoot, ".sandbox", name);
}

/** Parses `.sandbox/NAME/connection.json`. */
export function readConnection(name: string): SandboxConnection {
  return JSON.parse(readFileSync(path.join(sandboxStateDir(name), "connection.json"), "utf8")) as SandboxConnection;
}

/** Creates the sandbox (or finds it healthy) and returns its connection facts. */
export async function sandboxUp(name: string, opts: SandboxUpOptions = {}): Promise<SandboxConnection> {
  const args = ["up", "--name", name];
  if (opts.size !== undefined) args.push("--size", opts.size);
  if (opts.configRepo !== undefined) args.push("--config-repo", opts.configRepo);
  if (opts.flake) args.push("--flake");
  if (opts.immichRunning) args.push("--immich-running");
  else args.push("--owner", opts.owner ?? "none");
  const result = await runScript(args);
  if (result.code !== 0) {
    throw new Error(`sandbox:up ${name} failed with exit code ${result.code}:\n${result.stderr}`);
  }
  return readConnection(name);
}

/** Removes the sandbox completely; fine to call when it does not exist. */
export async function sandboxDown(name: string): Promise<CommandResult> {
  const result = await runScript(["down", "--name", name]);
  if (result.code !== 0) {
    throw new Error(`sandbox:down ${name} failed with exit code ${result.code}:\n${result.stderr}`);
  }
  return result;
}

/** Runs `command` (interpreted by the remote login shell) over SSH with the pinned host key. */
export function sandboxSsh(name: string, command: string, opts: SandboxSshOptions = {}): Promise<CommandResult> {
  const args = ["ssh", "--name", name];
  if (opts.user !== undefined) args.push("--user", opts.user);
  args.push("--", command);
  return runScript(args, opts.input);
}
