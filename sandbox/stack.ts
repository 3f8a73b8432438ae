/**
 * A Pulumi stack aimed at a sandbox SKYLAB, and the pinned CLI run with the project's offline
 * environment (the same one scripts/env.sh sets). Used by the end-to-end tests and `npm run demo`.
 */
import { spawn } from "child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { readConnection, sandboxSsh } from "./index";

export const repoRoot = path.resolve(__dirname, "..");

export function pulumiEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.join(repoRoot, ".tools", "bin")}:${process.env.PATH ?? ""}`,
    PULUMI_HOME: path.join(repoRoot, ".pulumi", "home"),
    PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? `file://${path.join(repoRoot, ".pulumi", "state")}`,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    SOPS_DISABLE_VERSION_CHECK: "true",
    PULUMI_SUPPRESS_COPILOT_LINK: "true",
    NO_COLOR: "1",
    ...extra,
  };
  if (extra.PULUMI_CONFIG_PASSPHRASE) delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (!env.PULUMI_CONFIG_PASSPHRASE && !env.PULUMI_CONFIG_PASSPHRASE_FILE) {
    env.PULUMI_CONFIG_PASSPHRASE_FILE = path.join(repoRoot, ".pulumi", "passphrase");
  }
  return env;
}

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
}

/** Runs the pinned `pulumi` with argument arrays; never throws on a non-zero exit. */
export function runPulumi(args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<PulumiResult> {
  return new Promise((resolve, reject) => {
    // Global flags first: anything after a `--` in args is a value.
    const child = spawn("pulumi", ["--non-interactive", ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: pulumiEnv(opts.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let output = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d; output += d; });
    child.stderr.on("data", (d: Buffer) => { stderr += d; output += d; });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr, output }));
    child.stdin.end(opts.input ?? "");
  });
}

export interface SandboxStackOptions {
  /** Extra stack config, merged over the defaults: `{ storage: { mountOptions: [] } }`. */
  config?: Record<string, unknown>;
  /** A secret database password for the stack (omitted: generated on the host). */
  dbPassword?: string;
  /** Log in as the admin user with sudo instead of root. */
  viaSudo?: boolean;
}

/** Creates (or recreates) stack `stack` aimed at sandbox `sandbox`. */
export async function configureSandboxStack(sandbox: string, stack: string, options: SandboxStackOptions = {}): Promise<void> {
  const conn = readConnection(sandbox);
  const file = path.join(repoRoot, `Pulumi.${stack}.yaml`);
  // The stack is made anew: a lock left by a run that was killed cannot belong to anyone.
  const backend = pulumiEnv().PULUMI_BACKEND_URL ?? "";
  if (backend.startsWith("file://")) {
    rmSync(path.join(backend.slice("file://".length).split("?")[0], ".pulumi", "locks", "organization", "skylab-immich", stack), {
      recursive: true,
      force: true,
    });
  }
  const existing = await runPulumi(["stack", "ls", "--json"]);
  if (existing.code === 0 && JSON.parse(existing.stdout).some((s: { name: string }) => s.name === stack)) {
    await must(runPulumi(["stack", "rm", "--force", "--yes", "--stack", stack]));
  }
  await must(runPulumi(["stack", "init", stack]));
  const salt = existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("encryptionsalt:")) : [];
  const config: Record<string, unknown> = {
    host: {
      address: conn.address,
      port: conn.port,
      user: options.viaSudo ? conn.adminUser : "root",
      become: options.viaSudo ? "sudo" : "none",
      hostKey: conn.hostPublicKey,
    },
    nixos: { configRepo: conn.configRepo, confirmTimeoutSeconds: 20 },
  };
  for (const [key, value] of Object.entries(options.config ?? {})) {
    config[key] = typeof value === "object" && value && !Array.isArray(value)
      ? { ...(config[key] as object | undefined), ...(value as object) }
      : value;
  }
  const lines = [...salt, "config:"];
  for (const [key, value] of Object.entries(config)) lines.push(`  skylab-immich:${key}: ${JSON.stringify(value)}`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  await must(runPulumi(["config", "set", "--secret", "--stack", stack, "sshPrivateKey"], { input: readFileSync(conn.privateKeyPath, "utf8") }));
  if (options.dbPassword !== undefined) {
    await must(runPulumi(["config", "set", "--secret", "--stack", stack, "dbPassword"], { input: options.dbPassword }));
  }
}

/**
 * The one step the owner does by hand on a new host (README): import the generated folder from the
 * NixOS configuration, and commit.
 */
export async function importGeneratedModules(sandbox: string, generatedDir = "modules/generated/skylab-immich"): Promise<void> {
  const conn = readConnection(sandbox);
  const script = [
    "set -euo pipefail",
    `cd ${shq(conn.configRepo)}`,
    `grep -qF ${shq(generatedDir)} configuration.nix || sed -i "s|^  imports = \\[|  imports = [\\n    ./${generatedDir}|" configuration.nix`,
    "git add configuration.nix",
    "git diff --cached --quiet || git commit -q -m 'Import the modules skylab-immich generates'",
  ].join("\n");
  const result = await sandboxSsh(sandbox, script);
  if (result.code !== 0) throw new Error(`could not add the import: ${result.stderr}`);
}

function shq(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

async function must(result: Promise<PulumiResult> | PulumiResult): Promise<PulumiResult> {
  const r = await result;
  if (r.code !== 0) throw new Error(`pulumi failed (${r.code}):\n${r.output}`);
  return r;
}
