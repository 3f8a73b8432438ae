/**
 * The bench in quick mode (one iteration, no warm-up, a 5 MB dataset): proves that a run produces a
 * complete, well-formed report — every scenario, finite numbers, ratios taken pair by pair, SSH
 * connections counted, no modifying remote command in a no-op up, the by-hand baseline reaching the
 * program's end state, an invalid setting failing with its message before any SSH connection, the
 * scaling fixture holding 1, 5 and 20 modules — and that it leaves no sandbox behind. It asserts
 * nothing about times.
 */
import { execFileSync, spawn } from "child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { applyPhases, PHASE_LABELS } from "../../bench/run";
import type { BenchReport, ScenarioReport } from "../../bench/run";
import type { Summary } from "../../bench/lib/stats";

const repoRoot = path.resolve(__dirname, "..", "..");

function runBench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npx", ["ts-node", "--transpile-only", "bench/run.ts", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function expectWellFormed(summary: Summary, positive: boolean): void {
  expect(summary.samples.length).toBeGreaterThan(0);
  for (const value of [...summary.samples, summary.median, summary.min, summary.max]) {
    expect(Number.isFinite(value)).toBe(true);
    if (positive) expect(value).toBeGreaterThan(0);
    else expect(value).toBeGreaterThanOrEqual(0);
  }
  expect(summary.min).toBeLessThanOrEqual(summary.median);
  expect(summary.median).toBeLessThanOrEqual(summary.max);
}

describe("npm run bench --quick", () => {
  const outDir = mkdtempSync(path.join(tmpdir(), "skylab-bench-test-"));
  const out = path.join(outDir, "results.json");
  let run: { code: number; stdout: string; stderr: string };
  let report: BenchReport;
  const scenario = (id: string): ScenarioReport => {
    const found = report.scenarios.find((s) => s.id === id);
    if (!found) throw new Error(`scenario ${id} missing from the report`);
    return found;
  };
  const named = (list: Summary[], name: string): Summary => {
    const found = list.find((s) => s.name === name);
    if (!found) throw new Error(`${name} missing`);
    return found;
  };

  beforeAll(async () => {
    run = await runBench(["--quick", "--dataset-mb", "5", "--out", out]);
    if (run.code !== 0) throw new Error(`the bench failed (exit ${run.code}):\n${run.stderr.slice(-6000)}`);
    report = JSON.parse(readFileSync(out, "utf8")) as BenchReport;
    // No time limit of the test's own (it checks the report, never the clock): an hour, past CI's whole run.
  }, 3_600_000);

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("reports every scenario in quick mode, and prints the table it stores", () => {
    expect(report.options).toMatchObject({ quick: true, iterations: 1, warmup: 0, datasetMb: 5 });
    expect(report.scenarios.map((s) => s.id)).toEqual([
      "1-preview-noop", "2-up-noop", "3-first-converge", "4-data-migration", "5-peak-memory", "6-invalid-setting", "7-preview-scaling",
    ]);
    expect(run.stdout).toContain(report.table);
    for (const title of report.scenarios.map((s) => s.title)) expect(report.table).toContain(title);
    expect(report.machine.nproc).toBeGreaterThan(0);
    expect(report.machine.cpuModel).not.toBe("");
  });

  it("measures each pair once and takes every ratio from it, iteration by iteration", () => {
    for (const s of report.scenarios.filter((s) => s.id !== "7-preview-scaling")) {
      expect(s.measurements).toHaveLength(2);
      for (const m of s.measurements) {
        expectWellFormed(m, true);
        expect(m.samples).toHaveLength(1);
      }
      expect(s.ratios).toHaveLength(1);
      const [ratio] = s.ratios;
      expectWellFormed(ratio, true);
      expect(ratio.samples[0]).toBeCloseTo(s.measurements[0].samples[0] / s.measurements[1].samples[0], 10);
    }
  });

  it("counts one SSH connection per no-op preview and up, and no modifying remote command", () => {
    const preview = scenario("1-preview-noop");
    expect(preview.checks).toMatchObject({ programPreviewsWithoutChanges: true, emptyPreviewsWithoutChanges: true });
    expect(named(preview.counts, "SSH connections per preview").samples).toEqual([1]);

    const up = scenario("2-up-noop");
    const connections = named(up.counts, "SSH connections per up");
    expect(connections.samples.every((n) => Number.isInteger(n) && n >= 1)).toBe(true);
    expect(named(up.counts, "remote commands that modify anything").samples).toEqual([0]);
    expect(named(up.counts, "resources changed (engine summary)").samples).toEqual([0]);
    expect(up.checks).toMatchObject({ modifyingRemoteCommands: 0, hostUnchanged: true, programUpChangedNothingInTheEngine: true });
  });

  it("compares the first converge with a by-hand script that reaches the same end state over one connection", () => {
    const converge = scenario("3-first-converge");
    expect(converge.checks.sameEndState).toBe(true);
    expect(named(converge.counts, "SSH connections, by hand").samples).toEqual([1]);
    const programConnections = named(converge.counts, "SSH connections, program");
    expect(Number.isInteger(programConnections.samples[0])).toBe(true);
    expect(programConnections.samples[0]).toBeGreaterThan(1);
    // The breakdown: the apply job's phases from its log, and the rest of the up; together the up's time.
    expect(converge.breakdown.map((b) => b.name)).toEqual(Object.values(PHASE_LABELS));
    for (const b of converge.breakdown) expectWellFormed(b, true);
    const total = converge.breakdown.reduce((sum, b) => sum + b.samples[0], 0);
    expect(total).toBeCloseTo(named(converge.measurements, "program: first pulumi up").samples[0], 6);
  });

  it("reads the apply job's phases from its log, across midnight too", () => {
    const log = [
      "[23:59:58.250] activating (nixos-rebuild test: no boot entry until verified); PATH=/usr/bin",
      "[23:59:58.300] snapshot: @immich as it was before this activation is @immich-snapshots/x on MEDIAS (read-only)",
      "[23:59:58.400] nixos-rebuild test",
      "building the system configuration...",
      "[23:59:59.900] verifying (services get up to 180s to come up: `nixos.verifyTimeoutSeconds`)",
      "[00:00:03.100] verified; waiting up to 120s for the deployer to confirm over a new SSH connection",
      "[00:00:03.600] confirmed; the boot default is unchanged (a reboot returns to it)",
      "[00:00:03.650] done",
    ].join("\n");
    expect(applyPhases(log)).toStrictEqual({ cutover: 0.15, activation: 1.5, verification: 3.2, confirmation: 0.55 });
    expect(() => applyPhases(log.replace("[00:00:03.650] done", ""))).toThrow("the apply job's log has no line \"done...\"");
  });

  it("reports the migration's throughput against plain rsync on the generated dataset", () => {
    const migration = scenario("4-data-migration");
    expect(migration.measurements.map((m) => m.unit)).toEqual(["MB/s", "MB/s"]);
    expect(migration.checks.datasetBytes).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    expect(migration.checks.datasetFiles).toBeGreaterThan(1);
    for (const b of migration.breakdown) expectWellFormed(b, true);
  });

  it("reports the peak memory of the program's process next to the empty program's, and of the CLI and the dynamic provider apart", () => {
    const memory = scenario("5-peak-memory");
    expect(memory.checks).toMatchObject({ programProcessSeen: true, emptyProgramProcessSeen: true });
    expect(memory.measurements.map((m) => [m.name, m.unit])).toEqual([
      ["peak RSS: Pulumi program (node …/@pulumi/pulumi/cmd/run)", "MB"],
      ["peak RSS: the empty program's process (its pulumi up)", "MB"],
    ]);
    expect(memory.ratios.map((r) => r.name)).toEqual(["ratio program / empty program"]);
    for (const part of ["pulumi CLI", "dynamic provider"]) {
      const peak = memory.breakdown.find((b) => b.name.includes(part));
      expect(peak).toBeDefined();
      expectWellFormed(peak as Summary, true);
    }
  });

  it("times a preview that fails on an invalid setting next to the valid one, and it opens no SSH connection", () => {
    const invalid = scenario("6-invalid-setting");
    expect(invalid.checks).toEqual({ invalidPreviewsFailed: true, failedWithTheConfigMessage: true, sshConnectionsOfInvalidPreviews: 0 });
    expect(invalid.measurements.map((m) => m.name)).toEqual(["program, invalid setting: pulumi preview (fails)", "program: pulumi preview"]);
    // Its floor is scenario 1's valid preview of the same iteration, not another run.
    expect(invalid.measurements[1].samples).toEqual(scenario("1-preview-noop").measurements[0].samples);
    expect(named(invalid.counts, "SSH connections per invalid preview").samples).toEqual([0]);
  });

  it("previews the scaling fixture with 1, 5 and 20 generated modules, each a no-op over one SSH connection", () => {
    const scaling = scenario("7-preview-scaling");
    expect(scaling.checks).toEqual({ everyPreviewWithoutChanges: true, sshConnectionsPerPreviewMin: 1, sshConnectionsPerPreviewMax: 1 });
    expect(scaling.measurements.map((m) => m.name)).toEqual([
      "no-op preview, 1 generated module", "no-op preview, 5 generated modules", "no-op preview, 20 generated modules",
    ]);
    for (const m of scaling.measurements) expectWellFormed(m, true);
    // The stack and three resources per module (BindMount, its NixModuleFile, its RemoteScript).
    expect(scaling.counts.map((c) => c.samples)).toEqual([[4], [16], [61]]);
    const [one, five, twenty] = scaling.measurements.map((m) => m.samples[0]);
    expect(scaling.ratios.map((r) => r.name)).toEqual(["ratio 5 / 1 modules", "ratio 20 / 1 modules"]);
    expect(scaling.ratios[0].samples[0]).toBeCloseTo(five / one, 10);
    expect(scaling.ratios[1].samples[0]).toBeCloseTo(twenty / one, 10);
    expect(scaling.breakdown.map((b) => b.name)).toEqual(["each further module (20 vs 1, ÷ 19)"]);
    expect(scaling.breakdown[0].samples[0]).toBeCloseTo((twenty - one) / 19, 10);
  });

  it("removes every sandbox it created", () => {
    const prefix = /sandboxes named (bench\d+)-\*/.exec(run.stderr)?.[1];
    expect(prefix).toBeDefined();
    const left = existsSync(path.join(repoRoot, ".sandbox")) ? readdirSync(path.join(repoRoot, ".sandbox")) : [];
    expect(left.filter((name) => name.startsWith(`${prefix}-`))).toEqual([]);
    const namespaces = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
    expect(namespaces.split("\n").filter((line) => line.startsWith(`skylab-${prefix}-`))).toEqual([]);
    const loops = execFileSync("losetup", ["-a"], { encoding: "utf8" });
    expect(loops.split("\n").filter((line) => line.includes(`/.sandbox/${prefix}-`))).toEqual([]);
  });
});
