/**
 * Peak resident memory of a process tree (Linux /proc): the `pulumi` CLI we started and everything it
 * starts (language host, the program's node process, the dynamic provider, ssh). Other people's Pulumi
 * runs on the same machine are not descendants of our CLI, so they are never counted.
 *
 * Each process's peak is its VmHWM (the kernel's high-water mark of RSS), read every `intervalMs`, so a
 * peak between two samples is not missed; only the last ≤ intervalMs before a process exits are.
 * Finding new descendants means reading every /proc/PID/stat, so that runs less often (`discoverMs`).
 */
import { readdirSync, readFileSync } from "fs";

export type ProcessRole = "program" | "dynamicProvider" | "languageHost" | "cli" | "other";

export const ROLE_LABELS: Record<Exclude<ProcessRole, "other">, string> = {
  program: "Pulumi program (node …/@pulumi/pulumi/cmd/run)",
  cli: "pulumi CLI / engine",
  dynamicProvider: "dynamic provider (node …/cmd/dynamic-provider)",
  languageHost: "language host (node toolchain/language-host.js)",
};

/** Which part of a Pulumi run a process is, from its command line. */
export function roleOf(pid: number, rootPid: number, cmdline: string): ProcessRole {
  if (pid === rootPid) return "cli";
  if (/@pulumi\/pulumi\/cmd\/run(\/|\s|$)/.test(cmdline) && !/cmd\/run-(plugin|policy-pack)/.test(cmdline)) return "program";
  if (cmdline.includes("@pulumi/pulumi/cmd/dynamic-provider")) return "dynamicProvider";
  if (cmdline.includes("language-host.js")) return "languageHost";
  return "other";
}

export type Peaks = Record<Exclude<ProcessRole, "other">, number | null>;

interface Tracked {
  role: ProcessRole;
  peakKb: number;
}

function readCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

function readHighWaterKb(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function parentOf(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces: fields start after the last ")".
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

export class PeakMemorySampler {
  private readonly tracked = new Map<number, Tracked>();
  private timers: NodeJS.Timeout[] = [];
  samples = 0;

  constructor(private readonly rootPid: number, private readonly intervalMs = 50, private readonly discoverMs = 200) {}

  start(): void {
    this.discover();
    this.sample();
    this.timers = [setInterval(() => this.sample(), this.intervalMs), setInterval(() => this.discover(), this.discoverMs)];
  }

  /** Stops sampling and returns each role's peak RSS in MB (null: no such process was seen). */
  stop(): Peaks {
    this.discover();
    this.sample();
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    const peaks: Peaks = { program: null, cli: null, dynamicProvider: null, languageHost: null };
    for (const { role, peakKb } of this.tracked.values()) {
      if (role === "other" || peakKb === 0) continue;
      peaks[role] = Math.max(peaks[role] ?? 0, peakKb / 1024);
    }
    return peaks;
  }

  private discover(): void {
    const children = new Map<number, number[]>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const parent = parentOf(entry);
      if (parent === undefined) continue;
      const list = children.get(parent) ?? [];
      list.push(Number(entry));
      children.set(parent, list);
    }
    const queue = [this.rootPid];
    while (queue.length) {
      const pid = queue.shift() as number;
      queue.push(...(children.get(pid) ?? []));
      const known = this.tracked.get(pid);
      // A shell shim exec()s node under the same PID: classify again until the role is known.
      if (known && known.role !== "other") continue;
      const cmdline = readCmdline(pid);
      if (cmdline === undefined) continue;
      this.tracked.set(pid, { role: roleOf(pid, this.rootPid, cmdline), peakKb: known?.peakKb ?? 0 });
    }
  }

  private sample(): void {
    this.samples++;
    for (const [pid, tracked] of this.tracked) {
      if (tracked.role === "other") continue;
      const hwm = readHighWaterKb(pid);
      if (hwm !== undefined) tracked.peakKb = Math.max(tracked.peakKb, hwm);
    }
  }
}
