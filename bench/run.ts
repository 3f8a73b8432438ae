/**
 * `npm run bench`: what a converge costs, side by side with the floors it cannot beat, in one run.
 *
 *   npx ts-node --transpile-only bench/run.ts [--quick] [--iterations N] [--dataset-mb N] [--out FILE]
 *                                             [--scenarios 1,2,3,4,5,6,7]
 *
 * Creates its own sandbox SKYLAB hosts (bench<pid>-…) and removes them at the end, also on failure or
 * Ctrl-C. Each scenario runs a warm-up, then N measured iterations; within an iteration the program and
 * its floor run back to back (order alternating), and ratios are taken iteration by iteration. Prints a
 * table of medians and min–max, writes everything to .bench/results-<timestamp>.json. Asserts nothing
 * about times; it does fail when a run that must change nothing changes something, or when the by-hand
 * baseline does not reach the same end state as the program.
 *
 * Scenarios: 1 no-op preview vs an empty program; 2 no-op up vs an empty program, with SSH connections
 * and modifying remote commands counted; 3 first converge of a fresh sandbox vs one hand-written script
 * over one SSH connection (bench/baseline/converge-by-hand.sh); 4 the program's data migration vs a
 * plain `rsync -aHAX` (throughput); 5 peak memory of the program's processes during scenario 3, next to
 * the empty program's; 6 a preview that fails on an invalid setting vs the valid no-op preview of
 * scenario 1 (same iterations), with its SSH connections counted (must be 0); 7 the no-op preview of a
 * fixture program of 1, 5 and 20 generated modules (bench/scaling/), to show how the cost grows with the work.
 */
import { spawn } from "child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { readConnection, sandboxDown, sandboxUp } from "../sandbox";
import { configureSandboxStack, importGeneratedModules } from "../sandbox/stack";
import { loadScript } from "../components/shell";
import { runRemoteScript } from "../lib/remote/ssh";
import { scriptWithArgs } from "../lib/remote/shell";
import {
  acceptedConnections, changedResources, mustScript, mustSucceed, now, programConnection, pulumi, readBenchFile, repoRoot,
  sandboxScript, secondsSince, Timed, timedSpawn, unchangedResources,
} from "./lib/commands";
import { PeakMemorySampler, Peaks, ROLE_LABELS } from "./lib/processes";
import {
  formatMedian, formatRange, pairwiseRatio, Ratio, Recorder, renderTable, summarize, Summary, TableRow,
} from "./lib/stats";

// ---------------------------------------------------------------------------------------------- options

export interface BenchOptions {
  quick: boolean;
  iterations: number;
  warmup: number;
  datasetMb: number;
  out?: string;
  scenarios: number[];
}

const USAGE = "usage: bench/run.ts [--quick] [--iterations N] [--dataset-mb N] [--out FILE] [--scenarios 1,2,3,4,5,6,7]";
const SCENARIOS = [1, 2, 3, 4, 5, 6, 7];

export function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = { quick: false, iterations: 5, warmup: 1, datasetMb: 300, scenarios: [...SCENARIOS] };
  let iterations: number | undefined;
  const positive = (flag: string, value: string | undefined) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`\`${flag}\` needs a whole number ≥ 1 (got ${JSON.stringify(value)})\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") options.quick = true;
    else if (arg === "--iterations") iterations = positive(arg, argv[++i]);
    else if (arg === "--dataset-mb") options.datasetMb = positive(arg, argv[++i]);
    else if (arg === "--out") options.out = argv[++i];
    else if (arg === "--scenarios") {
      const list = (argv[++i] ?? "").split(",").map((s) => positive(arg, s));
      if (list.some((n) => n > SCENARIOS.length)) throw new Error(`\`--scenarios\` takes numbers 1..${SCENARIOS.length}\n${USAGE}`);
      options.scenarios = [...new Set(list)].sort((a, b) => a - b);
    } else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  if (options.quick) {
    options.iterations = 1;
    options.warmup = 0;
  }
  if (iterations !== undefined) options.iterations = iterations;
  // Scenario 5 is measured during scenario 3, and 6 during 1: one comes with the other.
  for (const [a, b] of [[3, 5], [1, 6]]) {
    if (options.scenarios.includes(a) !== options.scenarios.includes(b)) options.scenarios = [...new Set([...options.scenarios, a, b])].sort((x, y) => x - y);
  }
  return options;
}

// ----------------------------------------------------------------------------------------------- report

export interface ScenarioReport {
  id: string;
  title: string;
  /** The measured pair (program first, then its floor) and any further timings. */
  measurements: Summary[];
  /** Pairwise ratios, iteration by iteration. */
  ratios: Ratio[];
  /** Counts per iteration (SSH connections, modifying remote commands, changed resources). */
  counts: Summary[];
  /** Extra timings that explain where the time goes (not part of a pair). */
  breakdown: Summary[];
  /** Facts checked during the run: every no-op really was one, the baseline reached the same state. */
  checks: Record<string, boolean | number | string>;
  notes: string[];
}

export interface BenchReport {
  tool: "skylab-immich bench";
  version: 1;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  options: BenchOptions;
  machine: { nproc: number; cpuModel: string; memoryGiB: number; kernel: string; node: string; pulumi: string; loadAverageAtStart: number[] };
  scenarios: ScenarioReport[];
  table: string;
}

function machineFacts(pulumiVersion: string): BenchReport["machine"] {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  return {
    nproc: os.cpus().length,
    cpuModel: model,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    pulumi: pulumiVersion,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function tableRows(scenarios: ScenarioReport[]): TableRow[] {
  const rows: TableRow[] = [];
  for (const s of scenarios) {
    let first = true;
    const push = (label: string, summary: Summary) => {
      rows.push({ scenario: first ? s.title : "", measurement: label, median: formatMedian(summary), range: formatRange(summary), n: String(summary.samples.length) });
      first = false;
    };
    for (const m of s.measurements) push(m.name, m);
    for (const r of s.ratios) push(r.name, r);
    for (const c of s.counts) push(c.name, c);
    for (const b of s.breakdown) push(`· ${b.name}`, b);
  }
  return rows;
}

// ------------------------------------------------------------------------------------- sandbox tracking

/** Everything this run created on the machine, removed in reverse order whatever happens. */
class Cleanup {
  private readonly sandboxes = new Set<string>();
  private readonly stacks = new Set<string>();

  addSandbox(name: string): void {
    this.sandboxes.add(name);
  }

  addStack(name: string): void {
    this.stacks.add(name);
  }

  async removeStack(name: string): Promise<void> {
    await pulumi(["stack", "rm", "--force", "--yes", "--stack", name]).catch(() => undefined);
    this.stacks.delete(name);
  }

  async removeSandbox(name: string): Promise<void> {
    await sandboxDown(name);
    this.sandboxes.delete(name);
  }

  async all(): Promise<string[]> {
    const problems: string[] = [];
    for (const stack of [...this.stacks].reverse()) await this.removeStack(stack);
    for (const sandbox of [...this.sandboxes].reverse()) {
      await this.removeSandbox(sandbox).catch((err: Error) => problems.push(`sandbox ${sandbox}: ${err.message}`));
    }
    return problems;
  }
}

// ------------------------------------------------------------------------------------------- the bench

/** Scenario 7's sizes: generated modules in the fixture program. */
const SCALING_SIZES = [1, 5, 20];

/** Scenario 6's setting, and the message the program must fail with before it connects anywhere. */
const INVALID_SETTING = {
  key: "pictures.mountPoint",
  value: "relative/path",
  message: '`pictures.mountPoint` must be an absolute path (got "relative/path"): write it from the root, e.g. "/relative/path"',
};

// Exactly as the component loads it (with the shared functions of lib/remote/lib.sh).
const MIGRATE_SCRIPT = loadScript("migrate-data.sh");
const GENERATED_DIR = "modules/generated/skylab-immich";

/** The settings both sides of scenario 3 converge to (the program's defaults). */
const CONVERGE_VALUES = {
  MEDIAS_LABEL: "MEDIAS",
  SUBVOLUME: "@immich",
  COMPRESSION: "zstd",
  SOURCE: "/var/lib/immich",
  KEEP_AT: "/var/lib/immich.pre-skylab-immich",
  REPO: "/etc/nixos",
  GENERATED_DIR,
  SOPS_FILE: "secrets/secrets.yaml",
  KEY_PATH: "immich/db_password",
  AGE_KEY_FILE: "/var/lib/sops-nix/key.txt",
};

/** Seconds of the apply job's phases, from its log (components/shell/nixos-apply.sh, `say` lines). */
export interface ApplyPhases { cutover: number; activation: number; verification: number; confirmation: number }

export const PHASE_LABELS: Record<keyof ApplyPhases | "outside", string> = {
  outside: "program: engine, host look, steps before the apply job",
  cutover: "apply job: data cut-over and snapshot",
  activation: "apply job: nixos-rebuild test (activation)",
  verification: "apply job: verification (services up, Immich answering)",
  confirmation: "apply job: confirmation over a new SSH connection, boot default",
};

/** The phases of one apply job from its log lines `[HH:MM:SS.mmm] message`. */
export function applyPhases(log: string): ApplyPhases {
  const at = (prefix: string): number => {
    const line = log.split("\n").find((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] /.test(l) && l.slice(15).startsWith(prefix));
    if (!line) throw new Error(`the apply job's log has no line "${prefix}..."`);
    const [h, m, sec] = line.slice(1, 13).split(":").map(Number);
    return h * 3600 + m * 60 + sec;
  };
  const [start, rebuild, verify, verified, done] =
    ["activating (", "nixos-rebuild test", "verifying (", "verified;", "done"].map(at);
  const between = (a: number, b: number) => Math.round(((b - a + 86400) % 86400) * 1000) / 1000; // across midnight too
  return { cutover: between(start, rebuild), activation: between(rebuild, verify), verification: between(verify, verified), confirmation: between(verified, done) };
}

class Bench {
  readonly prefix = `bench${process.pid % 100000}`;
  readonly cleanup = new Cleanup();
  readonly scenarios: ScenarioReport[] = [];
  readonly emptyDir = path.join(repoRoot, ".bench", "empty-program");
  readonly emptyEnv = {
    PULUMI_BACKEND_URL: `file://${path.join(repoRoot, ".bench", "empty-state")}`,
    PULUMI_CONFIG_PASSPHRASE: "skylab-bench-empty-program",
  };
  readonly emptyStack = "bench";
  /** The same empty program loaded by ts-node, as the SDK does by default (a breakdown row: the former floor). */
  readonly emptyTsNodeDir = path.join(repoRoot, ".bench", "empty-program-ts-node");
  readonly scalingDir = path.join(repoRoot, ".bench", "scaling-program");
  readonly scalingEnv = {
    PULUMI_BACKEND_URL: `file://${path.join(repoRoot, ".bench", "scaling-state")}`,
    PULUMI_CONFIG_PASSPHRASE: "skylab-bench-scaling-program",
  };
  mainSandbox = "";
  mainStack = "";
  generatedModulesTar: Buffer = Buffer.alloc(0);

  constructor(readonly options: BenchOptions) {}

  log(message: string): void {
    process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  }

  /** Runs `body` for the warm-up iterations (measure=false) then the measured ones (measure=true). */
  async iterate(what: string, body: (iteration: number, measure: boolean) => Promise<void>): Promise<void> {
    const total = this.options.warmup + this.options.iterations;
    for (let i = 0; i < total; i++) {
      const measure = i >= this.options.warmup;
      this.log(`${what}: ${measure ? `iteration ${i - this.options.warmup + 1}/${this.options.iterations}` : "warm-up"}`);
      await body(i, measure);
    }
  }

  async newSandbox(name: string, size?: string): Promise<void> {
    this.cleanup.addSandbox(name);
    await sandboxUp(name, size ? { size } : {});
  }

  async newStack(sandbox: string): Promise<string> {
    const stack = `sandbox-${sandbox}`;
    this.cleanup.addStack(stack);
    await configureSandboxStack(sandbox, stack);
    await importGeneratedModules(sandbox);
    return stack;
  }

  // ----------------------------------------------------------------------------------------- set-up

  /** A sandbox converged by the program (scenarios 1 and 2; its generated modules feed the scenario-3 baseline). */
  async setUpConvergedSandbox(): Promise<void> {
    // Scenarios 1 and 2 check that their runs change nothing: no separate check here. A first converge
    // that fails fails the bench, with its output.
    this.mainSandbox = `${this.prefix}-main`;
    this.log(`set-up: sandbox ${this.mainSandbox}, stack, first converge (untimed)`);
    await this.newSandbox(this.mainSandbox);
    this.mainStack = await this.newStack(this.mainSandbox);
    mustSucceed("first converge of the set-up sandbox", await pulumi(["up", "--yes", "--skip-preview", "--stack", this.mainStack]));
    const tar = await mustScript(this.mainSandbox, "tar of the generated modules", 'set -euo pipefail\ntar -C "$REPO" -cf - "$GENERATED_DIR" | base64 -w0', {
      REPO: CONVERGE_VALUES.REPO, GENERATED_DIR,
    });
    this.generatedModulesTar = Buffer.from(tar, "base64");
  }

  /** The empty program, copied to .bench/ (its stack files stay out of git) with its own file backend. */
  async setUpEmptyProgram(): Promise<void> {
    this.log("set-up: empty program, its stack and first up (untimed)");
    rmSync(this.emptyDir, { recursive: true, force: true });
    rmSync(path.join(repoRoot, ".bench", "empty-state"), { recursive: true, force: true });
    mkdirSync(this.emptyDir, { recursive: true });
    mkdirSync(path.join(repoRoot, ".bench", "empty-state"), { recursive: true });
    for (const file of ["Pulumi.yaml", "index.ts"]) copyFileSync(path.join(repoRoot, "bench", "empty", file), path.join(this.emptyDir, file));
    mustSucceed("stack init of the empty program", await this.emptyPulumi(["stack", "init", this.emptyStack]));
    mustSucceed("first up of the empty program", await this.emptyPulumi(["up", "--yes", "--skip-preview"]));
    // Its ts-node twin shares the stack (same project, same state: one output).
    rmSync(this.emptyTsNodeDir, { recursive: true, force: true });
    mkdirSync(this.emptyTsNodeDir, { recursive: true });
    copyFileSync(path.join(this.emptyDir, "index.ts"), path.join(this.emptyTsNodeDir, "index.ts"));
    copyFileSync(path.join(this.emptyDir, `Pulumi.${this.emptyStack}.yaml`), path.join(this.emptyTsNodeDir, `Pulumi.${this.emptyStack}.yaml`));
    const project = readFileSync(path.join(this.emptyDir, "Pulumi.yaml"), "utf8");
    const withTsNode = project.replace(/^    typescript: false\n    nodeargs: .*\n/m, "    typescript: true\n");
    if (withTsNode === project) throw new Error("bench/empty/Pulumi.yaml: its runtime options changed; update the ts-node twin in bench/run.ts");
    writeFileSync(path.join(this.emptyTsNodeDir, "Pulumi.yaml"), withTsNode);
  }

  emptyPulumi(args: string[], options: { cwd?: string; onSpawn?: (pid: number) => void } = {}): Promise<Timed> {
    const withStack = args[0] === "stack" ? args : [...args, "--stack", this.emptyStack];
    return pulumi(withStack, { cwd: options.cwd ?? this.emptyDir, env: this.emptyEnv, onSpawn: options.onSpawn });
  }

  /**
   * The main stack's config with one invalid setting, as a file for `--config-file` (scenario 6): the
   * same stack, state and secrets, so the only difference from the valid preview is the setting.
   */
  invalidSettingConfigFile(): string {
    const file = path.join(repoRoot, ".bench", `invalid-setting-${this.mainStack}.yaml`);
    copyFileSync(path.join(repoRoot, `Pulumi.${this.mainStack}.yaml`), file);
    return file;
  }

  // ------------------------------------------------------------------------------ scenario 1: preview

  async previewNoop(): Promise<void> {
    const rec = new Recorder();
    const checks = { programPreviewsWithoutChanges: true, emptyPreviewsWithoutChanges: true };
    // Scenario 6 runs in the same iterations: its floor is this scenario's valid preview.
    const invalidChecks = { invalidPreviewsFailed: true, failedWithTheConfigMessage: true, sshConnectionsOfInvalidPreviews: 0 };
    const invalidConfig = this.invalidSettingConfigFile();
    mustSucceed("invalid setting", await pulumi(["config", "set", "--path", INVALID_SETTING.key, INVALID_SETTING.value, "--stack", this.mainStack, "--config-file", invalidConfig]));
    let invalidOutput = "";
    const node = process.execPath;
    const loadWithTsNode = "require('ts-node').register({ transpileOnly: true, project: 'tsconfig.pulumi.json' }); require('./index.ts')";
    await this.iterate("scenarios 1 and 6 (no-op preview, invalid setting)", async (i, measure) => {
      const runProgram = async () => {
        const before = acceptedConnections(this.mainSandbox);
        const r = mustSucceed("no-op preview", await pulumi(["preview", "--stack", this.mainStack]));
        if (changedResources(r.output) !== 0) checks.programPreviewsWithoutChanges = false;
        if (measure) {
          rec.add("program: pulumi preview", "s", r.seconds);
          rec.add("SSH connections per preview", "count", acceptedConnections(this.mainSandbox) - before);
        }
      };
      const runEmpty = async () => {
        const r = mustSucceed("empty preview", await this.emptyPulumi(["preview"]));
        if (changedResources(r.output) !== 0) checks.emptyPreviewsWithoutChanges = false;
        if (measure) rec.add("empty program: pulumi preview", "s", r.seconds);
      };
      const runInvalid = async () => {
        const before = acceptedConnections(this.mainSandbox);
        const r = await pulumi(["preview", "--stack", this.mainStack, "--config-file", invalidConfig]);
        const connections = acceptedConnections(this.mainSandbox) - before;
        if (r.code === 0) invalidChecks.invalidPreviewsFailed = false;
        if (!r.output.includes(INVALID_SETTING.message)) {
          invalidChecks.failedWithTheConfigMessage = false;
          invalidOutput ||= r.output.slice(-2000);
        }
        invalidChecks.sshConnectionsOfInvalidPreviews = Math.max(invalidChecks.sshConnectionsOfInvalidPreviews, connections);
        if (measure) {
          rec.add("program, invalid setting: pulumi preview (fails)", "s", r.seconds);
          rec.add("SSH connections per invalid preview", "count", connections);
        }
      };
      // The three back to back, the order rotating from one iteration to the next.
      const steps = [runProgram, runEmpty, runInvalid];
      for (const step of [...steps.slice(i % 3), ...steps.slice(0, i % 3)]) await step();

      // Where the time goes: the same preview without its SSH look, and the parts of a start-up (not in
      // quick mode, which only proves the report complete).
      if (this.options.quick) return;
      const skip = mustSucceed("preview without the host look", await pulumi(["preview", "--stack", this.mainStack], { env: { SKYLAB_SKIP_HOST_LOOK: "1" } }));
      const emptyTsNode = mustSucceed("empty preview with ts-node", await this.emptyPulumi(["preview"], { cwd: this.emptyTsNodeDir }));
      const ssh = mustSucceed("ssh true", await sandboxScript(this.mainSandbox, "true"));
      const nodeStart = mustSucceed("node -e 0", await timedSpawn(node, ["-e", "0"]));
      const sdk = mustSucceed("require @pulumi/pulumi", await timedSpawn(node, ["-e", "require('@pulumi/pulumi')"]));
      const programCached = mustSucceed("load the program", await timedSpawn(node, ["-r", "./toolchain/register-compile-cache.js", "-e", "require('./index.ts')"]));
      const programTsNode = mustSucceed("load the program with ts-node", await timedSpawn(node, ["-e", loadWithTsNode]));
      const provider = await timeToFirstLine(path.join(repoRoot, ".tools", "bin", "pulumi-resource-pulumi-nodejs"), ["127.0.0.1:1"]);
      const host = await timeToFirstLine(node, [path.join(repoRoot, "toolchain", "language-host.js"), "127.0.0.1:1"]);
      if (!measure) return;
      rec.add("preview with SKYLAB_SKIP_HOST_LOOK=1 (no SSH)", "s", skip.seconds);
      rec.add("empty program loaded by ts-node: pulumi preview", "s", emptyTsNode.seconds);
      rec.add("one SSH connection running `true`", "s", ssh.seconds);
      rec.add("node start (node -e 0)", "s", nodeStart.seconds);
      rec.add("node + require('@pulumi/pulumi')", "s", sdk.seconds);
      rec.add("node + compile cache + the program's modules (index.ts)", "s", programCached.seconds);
      rec.add("node + ts-node + the program's modules (index.ts)", "s", programTsNode.seconds);
      rec.add("dynamic provider start (shim → port printed)", "s", provider);
      rec.add("language host start (→ port printed)", "s", host);
    });
    rmSync(invalidConfig, { force: true });
    const program = rec.get("program: pulumi preview");
    const empty = rec.get("empty program: pulumi preview");
    this.scenarios.push({
      id: "1-preview-noop",
      title: "1 preview, nothing to change",
      measurements: [program, empty],
      ratios: [pairwiseRatio("ratio program / empty", program, empty)],
      counts: [rec.get("SSH connections per preview")],
      breakdown: this.options.quick ? [] : [
        "preview with SKYLAB_SKIP_HOST_LOOK=1 (no SSH)", "empty program loaded by ts-node: pulumi preview",
        "one SSH connection running `true`", "node start (node -e 0)", "node + require('@pulumi/pulumi')",
        "node + compile cache + the program's modules (index.ts)", "node + ts-node + the program's modules (index.ts)",
        "dynamic provider start (shim → port printed)", "language host start (→ port printed)",
      ].map((name) => rec.get(name)),
      checks,
      notes: [
        ...(this.options.quick ? ["Quick mode: no breakdown."] : []),
        "The host-look-skipped preview is not a no-op: components show `[diff: -hostSha256]` updates (no remote work).",
        "Both programs load their TypeScript through toolchain/compile-cache.js (warm); the ts-node rows are the same work loaded the SDK's default way.",
      ],
    });
    const invalid = rec.get("program, invalid setting: pulumi preview (fails)");
    this.scenarios.push({
      id: "6-invalid-setting",
      title: "6 preview, invalid setting",
      measurements: [invalid, program],
      ratios: [pairwiseRatio("ratio invalid / valid preview", invalid, program)],
      counts: [rec.get("SSH connections per invalid preview")],
      breakdown: [],
      checks: { ...invalidChecks, ...(invalidOutput ? { outputOfAnInvalidPreview: invalidOutput } : {}) },
      notes: [
        `The main stack's config with \`${INVALID_SETTING.key}: ${INVALID_SETTING.value}\` (pulumi preview --config-file), run in scenario 1's iterations next to its valid preview.`,
        "It must fail with the config message before any SSH connection: the sandbox's sshd accepted none during it.",
      ],
    });
  }

  // ----------------------------------------------------------------------------------- scenario 2: up

  async upNoop(): Promise<void> {
    const rec = new Recorder();
    const checks = { programUpChangedNothingInTheEngine: true, hostUnchanged: true, emptyUpChangedNothing: true };
    const fingerprint = readBenchFile("remote", "host-fingerprint.sh");
    const fingerprintValues = { REPO: CONVERGE_VALUES.REPO, STATE_DIR: "/var/lib/skylab-immich" };
    let hostDifference = "";
    let engineOutput = "";
    await this.iterate("scenario 2 (no-op up)", async (i, measure) => {
      const runProgram = async () => {
        const before = await mustScript(this.mainSandbox, "host fingerprint", fingerprint, fingerprintValues);
        const connectionsBefore = acceptedConnections(this.mainSandbox);
        const r = mustSucceed("no-op up", await pulumi(["up", "--yes", "--skip-preview", "--stack", this.mainStack]));
        const connections = acceptedConnections(this.mainSandbox) - connectionsBefore;
        const after = await mustScript(this.mainSandbox, "host fingerprint", fingerprint, fingerprintValues);
        const changed = changedResources(r.output);
        if (changed !== 0 || !(unchangedResources(r.output) > 0)) {
          checks.programUpChangedNothingInTheEngine = false;
          engineOutput ||= r.output.split("\n").filter((l) => /^\s*[+~±-]\s|Resources:|\d+ (unchanged|created|updated|deleted|replaced)/.test(l)).slice(-30).join("\n");
        }
        const hostChanged = before !== after;
        if (hostChanged) {
          checks.hostUnchanged = false;
          hostDifference ||= diffLines(before, after);
        }
        // The one read-only look is the only connection a no-op up may open: every RemoteScript run is a
        // create, update or delete (there is no read), so each further connection is a modifying command.
        const hostLooks = /host look skipped/.test(r.output) ? 0 : 1;
        const modifying = Math.max(connections - hostLooks, hostChanged ? 1 : 0);
        if (measure) {
          rec.add("program: pulumi up", "s", r.seconds);
          rec.add("SSH connections per up", "count", connections);
          rec.add("remote commands that modify anything", "count", modifying);
          rec.add("resources changed (engine summary)", "count", changed);
        }
      };
      const runEmpty = async () => {
        const r = mustSucceed("empty up", await this.emptyPulumi(["up", "--yes", "--skip-preview"]));
        if (changedResources(r.output) !== 0) checks.emptyUpChangedNothing = false;
        if (measure) rec.add("empty program: pulumi up", "s", r.seconds);
      };
      for (const step of i % 2 ? [runEmpty, runProgram] : [runProgram, runEmpty]) await step();
    });
    const program = rec.get("program: pulumi up");
    const empty = rec.get("empty program: pulumi up");
    const modifying = rec.get("remote commands that modify anything");
    this.scenarios.push({
      id: "2-up-noop",
      title: "2 up, nothing to change",
      measurements: [program, empty],
      ratios: [pairwiseRatio("ratio program / empty", program, empty)],
      counts: [rec.get("SSH connections per up"), modifying, rec.get("resources changed (engine summary)")],
      breakdown: [],
      checks: {
        ...checks, modifyingRemoteCommands: modifying.max, ...(hostDifference ? { hostDifference } : {}),
        ...(engineOutput ? { engineOutputOfAChangingUp: engineOutput } : {}),
      },
      notes: ["Host state compared before/after each up with bench/remote/host-fingerprint.sh (read-only, outside the counted window)."],
    });
    // What must hold: no remote command that modifies anything, host unchanged. An engine-only change
    // (no remote work) is recorded in the checks above, not fatal.
    if (modifying.max !== 0 || !checks.hostUnchanged) {
      throw new Error(`a no-op up changed something: ${JSON.stringify(this.scenarios[this.scenarios.length - 1].checks)}`);
    }
  }

  // ------------------------------------------------------------------- scenario 3 (and 5): first converge

  async firstConverge(): Promise<void> {
    const rec = new Recorder();
    const byHand = readBenchFile("baseline", "converge-by-hand.sh");
    const stateScript = readBenchFile("remote", "converged-state.sh");
    const checks: Record<string, boolean | number | string> = { sameEndState: true };
    const peaksSeen: Peaks[] = [];
    const emptyPeaksSeen: Peaks[] = [];
    let samples = 0;
    await this.iterate("scenario 3 (first converge)", async (i, measure) => {
      const result = await this.convergeOnce(`${this.prefix}-c${i}`, i % 2 === 1, byHand, stateScript);
      if (result.endStateDifference) {
        checks.sameEndState = false;
        checks.endStateDifference = result.endStateDifference;
      }
      if (measure) {
        rec.add("program: first pulumi up", "s", result.programSeconds);
        rec.add("by hand: one script, one SSH connection", "s", result.handSeconds);
        rec.add("SSH connections, program", "count", result.programConnections);
        rec.add("SSH connections, by hand", "count", result.handConnections);
        peaksSeen.push(result.peaks);
        samples += result.sampleTicks;
        const job = Object.values(result.phases).reduce((a, b) => a + b, 0);
        rec.add(PHASE_LABELS.outside, "s", result.programSeconds - job);
        for (const [phase, seconds] of Object.entries(result.phases)) rec.add(PHASE_LABELS[phase as keyof ApplyPhases], "s", seconds);
      }
      // The memory pair: the empty program's up in the same iteration, sampled the same way.
      const empty = await this.emptyUpPeaks();
      if (measure) emptyPeaksSeen.push(empty);
    });
    const program = rec.get("program: first pulumi up");
    const hand = rec.get("by hand: one script, one SSH connection");
    this.scenarios.push({
      id: "3-first-converge",
      title: "3 first converge, fresh host",
      measurements: [program, hand],
      ratios: [pairwiseRatio("ratio program / by hand", program, hand)],
      counts: [rec.get("SSH connections, program"), rec.get("SSH connections, by hand")],
      breakdown: Object.values(PHASE_LABELS).map((label) => rec.get(label)),
      checks,
      notes: [
        "The breakdown splits the program's up by the apply job's own log (millisecond timestamps): the job's phases, and the rest (engine, host look, the steps before the apply).",
        "Each iteration uses two fresh sandboxes (creation, stack set-up and the configuration import excluded from the times).",
        "The by-hand side is bench/baseline/converge-by-hand.sh: the same steps and end state, none of the program's checks, verification or rollback.",
      ],
    });
    if (!checks.sameEndState) throw new Error(`the by-hand baseline did not reach the program's end state:\n${checks.endStateDifference}`);

    const roles = ["program", "cli", "dynamicProvider", "languageHost"] as const;
    const memory: Summary[] = roles.map((role) => {
      const values = peaksSeen.map((p) => p[role]).filter((v): v is number => v !== null);
      return summarize(`peak RSS: ${ROLE_LABELS[role]}`, "MB", values);
    });
    const emptyValues = emptyPeaksSeen.map((p) => p.program).filter((v): v is number => v !== null);
    const emptyMemory = summarize("peak RSS: the empty program's process (its pulumi up)", "MB", emptyValues);
    const bothSeen = memory[0].samples.length === peaksSeen.length && emptyValues.length === peaksSeen.length && peaksSeen.length > 0;
    this.scenarios.push({
      id: "5-peak-memory",
      title: "5 peak memory during 3",
      measurements: [memory[0], emptyMemory],
      ratios: bothSeen ? [pairwiseRatio("ratio program / empty program", memory[0], emptyMemory)] : [],
      counts: [],
      breakdown: memory.slice(1),
      checks: {
        programProcessSeen: memory[0].samples.length === peaksSeen.length && peaksSeen.length > 0,
        emptyProgramProcessSeen: emptyValues.length === emptyPeaksSeen.length && emptyPeaksSeen.length > 0,
        sampleTicks: samples,
      },
      notes: [
        "VmHWM of each process under our pulumi CLI, read every 50 ms (new processes found every 200 ms); max per role and run.",
        "The empty program's peak is taken in the same iteration, during its `pulumi up` (it has nothing to converge, first or not).",
      ],
    });
  }

  /** Peak memory of the processes of one `pulumi up` of the empty program. */
  async emptyUpPeaks(): Promise<Peaks> {
    let sampler: PeakMemorySampler | undefined;
    const r = await this.emptyPulumi(["up", "--yes", "--skip-preview"], {
      onSpawn: (pid) => {
        sampler = new PeakMemorySampler(pid);
        sampler.start();
      },
    });
    const peaks = sampler?.stop() ?? { program: null, cli: null, dynamicProvider: null, languageHost: null };
    mustSucceed("empty up (peak memory)", r);
    return peaks;
  }

  /** One side-by-side first converge on two fresh sandboxes, removed again before returning. */
  async convergeOnce(name: string, handFirst: boolean, byHand: string, stateScript: string): Promise<{
    programSeconds: number; handSeconds: number; programConnections: number; handConnections: number;
    peaks: Peaks; sampleTicks: number; phases: ApplyPhases; endStateDifference?: string;
  }> {
    const programSide = `${name}p`;
    const handSide = `${name}h`;
    try {
      // Untimed: fresh hosts, the stack, and the one step the owner does by hand on both (the import).
      await this.newSandbox(programSide);
      await this.newSandbox(handSide);
      const stack = await this.newStack(programSide);
      await importGeneratedModules(handSide);
      let program: { seconds: number; connections: number; peaks: Peaks; ticks: number; phases: ApplyPhases } | undefined;
      let hand: { seconds: number; connections: number } | undefined;
      const runProgram = async () => {
        const before = acceptedConnections(programSide);
        let sampler: PeakMemorySampler | undefined;
        const r = await pulumi(["up", "--yes", "--skip-preview", "--stack", stack], {
          onSpawn: (pid) => {
            sampler = new PeakMemorySampler(pid);
            sampler.start();
          },
        });
        const peaks = sampler?.stop() ?? { program: null, cli: null, dynamicProvider: null, languageHost: null };
        mustSucceed("first converge", r);
        const connections = acceptedConnections(programSide) - before;
        // After the count: reading the log is a connection of its own.
        const jobLog = await mustScript(programSide, "the apply job's log", 'set -euo pipefail\ncat /var/lib/skylab-immich/apply/log-*');
        program = { seconds: r.seconds, connections, peaks, ticks: sampler?.samples ?? 0, phases: applyPhases(jobLog) };
      };
      const runByHand = async () => {
        const before = acceptedConnections(handSide);
        const r = mustSucceed("converge by hand", await sandboxScript(handSide, byHand, CONVERGE_VALUES, { input: this.generatedModulesTar }));
        hand = { seconds: r.seconds, connections: acceptedConnections(handSide) - before };
      };
      for (const step of handFirst ? [runByHand, runProgram] : [runProgram, runByHand]) await step();
      if (!program || !hand) throw new Error("scenario 3: a side did not run");
      const programState = await mustScript(programSide, "converged state", stateScript, CONVERGE_VALUES);
      const handState = await mustScript(handSide, "converged state", stateScript, CONVERGE_VALUES);
      return {
        programSeconds: program.seconds, handSeconds: hand.seconds, programConnections: program.connections,
        handConnections: hand.connections, peaks: program.peaks, sampleTicks: program.ticks, phases: program.phases,
        ...(programState !== handState ? { endStateDifference: diffLines(programState, handState) } : {}),
      };
    } finally {
      await this.cleanup.removeStack(`sandbox-${programSide}`);
      await this.cleanup.removeSandbox(programSide);
      await this.cleanup.removeSandbox(handSide);
    }
  }

  // -------------------------------------------------------------------------- scenario 4: migration

  async dataMigration(): Promise<void> {
    const rec = new Recorder();
    const sandbox = `${this.prefix}-data`;
    const sizeMb = Math.max(512, this.options.datasetMb * 3 + 512);
    const values = {
      MEDIAS_LABEL: "MEDIAS",
      SUBVOLUME: "@bench-migration",
      SOURCE: "/var/lib/bench-dataset",
      KEEP_AT: "/var/lib/bench-dataset.pre-skylab-immich",
      STATE_DIR: "/var/lib/skylab-bench",
      UNITS: "",
    };
    const rsyncTarget = "/mnt/medias/@bench-rsync";
    this.log(`scenario 4: sandbox ${sandbox} (${sizeMb}M) and a ${this.options.datasetMb} MB dataset (untimed)`);
    await this.newSandbox(sandbox, `${sizeMb}M`);
    const made = await mustScript(sandbox, "dataset", 'set -euo pipefail\npython3 -c "$GENERATOR" "$SOURCE" "$MEGABYTES"\ndu -sb "$SOURCE" | cut -f1', {
      GENERATOR: readBenchFile("remote", "make-dataset.py"), SOURCE: values.SOURCE, MEGABYTES: String(this.options.datasetMb),
    });
    const [filesLine, bytesLine] = made.trim().split("\n");
    const files = Number(filesLine.split(" ")[0]);
    const bytes = Number(bytesLine);
    const reset = readBenchFile("remote", "migration-reset.sh");
    const resetValues = {
      SOURCE: values.SOURCE, KEEP_AT: values.KEEP_AT, STATE_DIR: values.STATE_DIR, TOP: "/mnt/medias",
      SUBVOLUMES: "@bench-migration @bench-rsync", COMPRESSION: "zstd",
    };
    const plainRsync = readBenchFile("baseline", "plain-rsync.sh");
    const connection = programConnection(readConnection(sandbox));
    const migrationScript = scriptWithArgs(MIGRATE_SCRIPT, values);

    await this.iterate("scenario 4 (data migration)", async (i, measure) => {
      const runProgram = async () => {
        await mustScript(sandbox, "reset", reset, resetValues);
        // As the RemoteScript provider runs it: lib/remote/ssh's runRemoteScript with the scriptWithArgs preamble.
        let verifyingAt = Number.NaN;
        const start = now();
        const r = await runRemoteScript(connection, migrationScript, {
          onStderrLine: (line) => {
            if (line.startsWith("progress: verifying")) verifyingAt = secondsSince(start);
          },
        });
        const seconds = secondsSince(start);
        if (r.code !== 0 || !/verified: every file/.test(r.stdout)) throw new Error(`the migration failed (exit ${r.code}):\n${r.stdout}\n${r.stderr.slice(-3000)}`);
        if (measure) {
          rec.add("program: DataMigration script", "MB/s", bytes / 1e6 / seconds);
          rec.add("program: seconds", "s", seconds);
          rec.add("program: copy phase (rsync + progress)", "s", verifyingAt);
          rec.add("program: checksum verification phase", "s", seconds - verifyingAt);
        }
      };
      const runRsync = async () => {
        await mustScript(sandbox, "reset", reset, resetValues);
        const r = mustSucceed("plain rsync", await sandboxScript(sandbox, plainRsync, { SOURCE: values.SOURCE, TARGET: rsyncTarget }));
        if (measure) {
          rec.add("plain rsync -aHAX", "MB/s", bytes / 1e6 / r.seconds);
          rec.add("plain rsync: seconds", "s", r.seconds);
        }
      };
      for (const step of i % 2 ? [runRsync, runProgram] : [runProgram, runRsync]) await step();
    });
    await mustScript(sandbox, "reset", reset, resetValues);
    await this.cleanup.removeSandbox(sandbox);
    const program = rec.get("program: DataMigration script");
    const rsync = rec.get("plain rsync -aHAX");
    this.scenarios.push({
      id: "4-data-migration",
      title: `4 data migration, ${this.options.datasetMb} MB`,
      measurements: [program, rsync],
      ratios: [pairwiseRatio("throughput ratio program / rsync", program, rsync)],
      counts: [summarize("dataset files", "count", [files]), summarize("dataset MB", "count", [Math.round(bytes / 1e6)])],
      breakdown: ["program: seconds", "program: copy phase (rsync + progress)", "program: checksum verification phase", "plain rsync: seconds"].map((n) => rec.get(n)),
      checks: { datasetBytes: bytes, datasetFiles: files },
      notes: [
        "Both copy the same generated dataset from the sandbox's root filesystem into an empty subvolume of MEDIAS with compression=zstd, each over one SSH connection, page cache warm for both.",
        "The program's script also verifies every file by checksum (rsync --checksum --dry-run) and moves the original aside.",
      ],
    });
  }

  // --------------------------------------------------------- scenario 7: no-op preview as the work grows

  scalingPulumi(args: string[], stack: string, input?: string): Promise<Timed> {
    // Flags before a `--`: whatever follows it is a value.
    const end = args.includes("--") ? args.indexOf("--") : args.length;
    return pulumi([...args.slice(0, end), "--stack", stack, ...args.slice(end)], { cwd: this.scalingDir, env: this.scalingEnv, input });
  }

  /**
   * bench/scaling/ (the product's BindMount component and host look, N of them) on its own sandbox with
   * one stack per size, each converged once; then each iteration previews the three, order rotating.
   */
  async scalingPreview(): Promise<void> {
    const rec = new Recorder();
    const sandbox = `${this.prefix}-scale`;
    this.log(`scenario 7: sandbox ${sandbox}, the fixture program, its stacks ${SCALING_SIZES.map((n) => `n${n}`).join(", ")} converged once (untimed)`);
    await this.newSandbox(sandbox);
    const conn = readConnection(sandbox);
    const state = path.join(repoRoot, ".bench", "scaling-state");
    for (const dir of [this.scalingDir, state]) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    }
    for (const file of ["Pulumi.yaml", "index.ts"]) copyFileSync(path.join(repoRoot, "bench", "scaling", file), path.join(this.scalingDir, file));
    const privateKey = readFileSync(conn.privateKeyPath, "utf8");
    for (const n of SCALING_SIZES) {
      const stack = `n${n}`;
      mustSucceed(`stack init ${stack}`, await pulumi(["stack", "init", stack], { cwd: this.scalingDir, env: this.scalingEnv }));
      const settings = { address: conn.address, port: String(conn.port), hostKey: conn.hostPublicKey, configRepo: conn.configRepo, count: String(n) };
      for (const [key, value] of Object.entries(settings)) mustSucceed(`config ${key}`, await this.scalingPulumi(["config", "set", key, "--", value], stack));
      mustSucceed("config privateKey", await this.scalingPulumi(["config", "set", "--secret", "privateKey"], stack, privateKey));
      mustSucceed(`first up of ${stack}`, await this.scalingPulumi(["up", "--yes", "--skip-preview"], stack));
    }
    const checks = { everyPreviewWithoutChanges: true, sshConnectionsPerPreviewMin: Number.POSITIVE_INFINITY, sshConnectionsPerPreviewMax: 0 };
    const label = (n: number) => `no-op preview, ${n} generated module${n === 1 ? "" : "s"}`;
    await this.iterate("scenario 7 (no-op preview, 1/5/20 generated modules)", async (i, measure) => {
      const runs = SCALING_SIZES.map((n) => async () => {
        const before = acceptedConnections(sandbox);
        const r = mustSucceed(`no-op preview of n${n}`, await this.scalingPulumi(["preview"], `n${n}`));
        const connections = acceptedConnections(sandbox) - before;
        if (changedResources(r.output) !== 0) checks.everyPreviewWithoutChanges = false;
        checks.sshConnectionsPerPreviewMin = Math.min(checks.sshConnectionsPerPreviewMin, connections);
        checks.sshConnectionsPerPreviewMax = Math.max(checks.sshConnectionsPerPreviewMax, connections);
        if (measure) {
          rec.add(label(n), "s", r.seconds);
          rec.add(`resources, ${n} module${n === 1 ? "" : "s"} (engine summary)`, "count", unchangedResources(r.output));
        }
      });
      for (const run of [...runs.slice(i % runs.length), ...runs.slice(0, i % runs.length)]) await run();
    });
    await this.cleanup.removeSandbox(sandbox);
    const [first, ...more] = SCALING_SIZES.map((n) => rec.get(label(n)));
    const largest = more[more.length - 1];
    const perModule = (SCALING_SIZES[SCALING_SIZES.length - 1] - SCALING_SIZES[0]);
    this.scenarios.push({
      id: "7-preview-scaling",
      title: `7 preview, ${SCALING_SIZES.join("/")} generated modules`,
      measurements: [first, ...more],
      ratios: more.map((m, k) => pairwiseRatio(`ratio ${SCALING_SIZES[k + 1]} / ${SCALING_SIZES[0]} modules`, m, first)),
      counts: SCALING_SIZES.map((n) => rec.get(`resources, ${n} module${n === 1 ? "" : "s"} (engine summary)`)),
      breakdown: [summarize(
        `each further module (${SCALING_SIZES[SCALING_SIZES.length - 1]} vs ${SCALING_SIZES[0]}, ÷ ${perModule})`, "s",
        largest.samples.map((t, k) => (t - first.samples[k]) / perModule),
      )],
      checks,
      notes: [
        "bench/scaling/: N BindMount components (one generated module and one RemoteScript each) and one host look reading the N files; one stack per N on one sandbox, each converged before the first preview.",
        "Every preview must change nothing and open one SSH connection (the look).",
      ],
    });
  }

  // ------------------------------------------------------------------------------------------ run

  async run(): Promise<BenchReport> {
    const started = now();
    const startedAt = new Date().toISOString();
    const version = mustSucceed("pulumi version", await pulumi(["version"])).stdout.trim();
    const machine = machineFacts(version);
    const want = (n: number) => this.options.scenarios.includes(n);
    let failure: unknown;
    try {
      if (want(1) || want(2) || want(3)) await this.setUpConvergedSandbox();
      if (want(1) || want(2) || want(3)) await this.setUpEmptyProgram();
      if (want(1)) await this.previewNoop();
      if (want(2)) await this.upNoop();
      if (want(4)) await this.dataMigration();
      if (want(3)) await this.firstConverge();
      if (want(7)) await this.scalingPreview();
    } catch (err) {
      failure = err;
    } finally {
      this.log("removing this run's stacks and sandboxes");
      const problems = await this.cleanup.all();
      for (const problem of problems) this.log(`cleanup: ${problem}`);
    }
    if (failure) throw failure;
    const order = SCENARIOS.map((n) => `${n}-`);
    this.scenarios.sort((a, b) => order.findIndex((p) => a.id.startsWith(p)) - order.findIndex((p) => b.id.startsWith(p)));
    return {
      tool: "skylab-immich bench",
      version: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      durationSeconds: Math.round(secondsSince(started)),
      options: this.options,
      machine,
      scenarios: this.scenarios,
      table: renderTable(tableRows(this.scenarios)),
    };
  }
}

/** Seconds from starting a gRPC plugin to the port it prints on stdout; the process is then stopped. */
function timeToFirstLine(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = now();
    const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, PATH: `${path.join(repoRoot, ".tools", "bin")}:${process.env.PATH ?? ""}` }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let seen = "";
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${command} printed no port within 30 s`)), 30000);
    const finish = (result: number | Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // The shim is `sh` exec'ing node: stop its whole process group.
      try {
        if (child.pid) process.kill(-child.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
      if (typeof result === "number") resolve(result);
      else reject(result);
    };
    child.stdout.on("data", (d: Buffer) => {
      seen += d;
      if (/^\d+\s*$/m.test(seen)) finish(secondsSince(start));
    });
    child.on("error", (err) => finish(err));
    child.on("exit", (code) => finish(new Error(`${command} exited (${code}) before printing a port: ${seen}`)));
  });
}

function diffLines(before: string, after: string): string {
  const a = new Set(before.split("\n"));
  const b = new Set(after.split("\n"));
  return [...[...a].filter((l) => !b.has(l)).map((l) => `- ${l}`), ...[...b].filter((l) => !a.has(l)).map((l) => `+ ${l}`)].slice(0, 40).join("\n");
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const bench = new Bench(options);
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      bench.log(`${signal}: removing this run's stacks and sandboxes before exiting`);
      void bench.cleanup.all().finally(() => process.exit(130));
    });
  }
  bench.log(`options: ${JSON.stringify(options)}; sandboxes named ${bench.prefix}-*`);
  const report = await bench.run();
  const out = options.out ?? path.join(repoRoot, ".bench", `results-${report.startedAt.replace(/[:.]/g, "-")}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const m = report.machine;
  console.log(report.table);
  console.log("");
  for (const scenario of report.scenarios) {
    const facts = Object.entries(scenario.checks).map(([key, value]) => `${key}=${typeof value === "string" ? JSON.stringify(value) : value}`);
    console.log(`checks ${scenario.id}: ${facts.join(", ")}`);
  }
  console.log(`\nmachine: ${m.nproc} × ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, node ${m.node}, pulumi ${m.pulumi}; load at start ${m.loadAverageAtStart.join(" ")}`);
  console.log(`${options.iterations} iteration(s) after ${options.warmup} warm-up; ${report.durationSeconds} s; results in ${path.relative(process.cwd(), out)}`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
