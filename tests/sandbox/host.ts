/** Helpers for sandbox tests that look at this machine (the host side of a sandbox). */
import { spawnSync } from "child_process";
import { existsSync, readdirSync, readFileSync } from "fs";

export interface HostResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a program on this machine with an argument array. */
export function host(program: string, args: string[], input?: string): HostResult {
  const result = spawnSync(program, args, { encoding: "utf8", input });
  if (result.error) throw result.error;
  return { stdout: result.stdout, stderr: result.stderr, code: result.status ?? 1 };
}

export function processAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** PIDs of every process on this machine whose mount table mentions `needle`. */
export function processesWithMountsMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/mountinfo`, "utf8").includes(needle)) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** A unique sandbox name for one test file. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}`;
}
