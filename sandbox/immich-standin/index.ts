/**
 * Test-side handle on the stand-in Immich API of a sandbox (start.sh / stop.sh beside this file). The API key
 * reaches start.sh on stdin only.
 */
import { spawn } from "child_process";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { sandboxStateDir } from "../index";

const here = __dirname;

/** One line of the stand-in's request log (`/var/lib/immich-standin/requests.log` in the sandbox). */
export interface StandinRequest {
  time: string;
  method: string;
  path: string;
  status: number;
  operationId?: string;
  /** Validation errors the stand-in answered 400 with. */
  errors?: string[];
  /** Properties Immich's validation pipe would have dropped (not in the DTO). */
  stripped?: string[];
  /** The stand-in's own answer broke the spec (a defect of the stand-in). */
  responseErrors?: string[];
}

export interface StandinOptions {
  apiKey: string;
  adminEmail?: string;
  /** How long the scan takes per file found (default 250 ms). */
  msPerFile?: number;
}

function run(script: string, args: string[], input = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(here, script), ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Starts (or restarts) the stand-in in sandbox `name`; returns its PID. */
export async function startImmichStandin(name: string, options: StandinOptions): Promise<number> {
  const args = [name];
  if (options.adminEmail) args.push("--admin-email", options.adminEmail);
  if (options.msPerFile !== undefined) args.push("--ms-per-file", String(options.msPerFile));
  const result = await run("start.sh", args, options.apiKey);
  if (result.code !== 0) throw new Error(`immich stand-in did not start in ${name}:\n${result.stderr}`);
  return Number(result.stdout.trim());
}

/**
 * Gives the sandbox's stand-in its API key (as a sha256) without starting anything: the next `up` starts
 * immich-server.service, which runs the stand-in with it.
 */
export async function configureImmichStandin(name: string, options: StandinOptions): Promise<void> {
  const args = [name, "--configure-only"];
  if (options.adminEmail) args.push("--admin-email", options.adminEmail);
  if (options.msPerFile !== undefined) args.push("--ms-per-file", String(options.msPerFile));
  const result = await run("start.sh", args, options.apiKey);
  if (result.code !== 0) throw new Error(`immich stand-in of ${name} was not configured:\n${result.stderr}`);
}

export async function stopImmichStandin(name: string): Promise<void> {
  const result = await run("stop.sh", [name]);
  if (result.code !== 0) throw new Error(`immich stand-in of ${name} did not stop:\n${result.stderr}`);
}

/** The request log as this machine sees it (the sandbox overlay's upper layer). */
export function standinLogPath(name: string): string {
  return path.join(sandboxStateDir(name), "upper", "var", "lib", "immich-standin", "requests.log");
}

export function standinRequests(name: string): StandinRequest[] {
  const file = standinLogPath(name);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as StandinRequest);
}

/** Requests that could change something in Immich. */
export function mutatingRequests(requests: StandinRequest[]): StandinRequest[] {
  return requests.filter((r) => ["POST", "PUT", "PATCH", "DELETE"].includes(r.method));
}
