/**
 * Samples, their summary (median and min–max), ratios taken pair by pair within one run, and the table
 * the bench prints. No thresholds anywhere: the bench reports, it does not judge.
 */

export type Unit = "s" | "MB/s" | "MB" | "count" | "x";

export interface Summary {
  name: string;
  unit: Unit;
  /** One value per measured iteration (warm-up excluded), in the order they were taken. */
  samples: number[];
  median: number;
  min: number;
  max: number;
  /** Free text shown after the numbers ("breakdown", "per iteration", …). */
  note?: string;
}

/** `a / b` for each iteration i (a[i] and b[i] were measured back to back), then summarised. */
export interface Ratio extends Summary {
  numerator: string;
  denominator: string;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function summarize(name: string, unit: Unit, samples: number[], note?: string): Summary {
  return {
    name,
    unit,
    samples,
    median: median(samples),
    min: samples.length ? Math.min(...samples) : Number.NaN,
    max: samples.length ? Math.max(...samples) : Number.NaN,
    ...(note ? { note } : {}),
  };
}

export function pairwiseRatio(name: string, numerator: Summary, denominator: Summary, note?: string): Ratio {
  if (numerator.samples.length !== denominator.samples.length) {
    throw new Error(`ratio ${name}: ${numerator.name} has ${numerator.samples.length} samples, ${denominator.name} ${denominator.samples.length}`);
  }
  const samples = numerator.samples.map((value, i) => value / denominator.samples[i]);
  return { ...summarize(name, "x", samples, note), numerator: numerator.name, denominator: denominator.name };
}

/** Collects the samples of several named measurements across iterations. */
export class Recorder {
  private readonly series = new Map<string, { unit: Unit; samples: number[]; note?: string }>();

  add(name: string, unit: Unit, value: number, note?: string): void {
    const entry = this.series.get(name) ?? { unit, samples: [], note };
    entry.samples.push(value);
    this.series.set(name, entry);
  }

  get(name: string): Summary {
    const entry = this.series.get(name);
    if (!entry) throw new Error(`no samples recorded for ${name}`);
    return summarize(name, entry.unit, entry.samples, entry.note);
  }

  all(): Summary[] {
    return [...this.series.keys()].map((name) => this.get(name));
  }
}

function formatNumber(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return "n/a";
  if (unit === "count") return Number.isInteger(value) ? String(value) : value.toFixed(1);
  if (unit === "x") return value >= 10 ? value.toFixed(1) : value.toFixed(2);
  if (unit === "MB") return value.toFixed(0);
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function unitSuffix(unit: Unit): string {
  return unit === "count" ? "" : unit === "x" ? "×" : ` ${unit}`;
}

export function formatMedian(s: Summary): string {
  return `${formatNumber(s.median, s.unit)}${unitSuffix(s.unit)}`;
}

export function formatRange(s: Summary): string {
  if (s.samples.length <= 1 || s.min === s.max) return `${formatNumber(s.min, s.unit)}${unitSuffix(s.unit)}`;
  return `${formatNumber(s.min, s.unit)}–${formatNumber(s.max, s.unit)}${unitSuffix(s.unit)}`;
}

export interface TableRow {
  scenario: string;
  measurement: string;
  median: string;
  range: string;
  n: string;
}

/** A plain-text table, one block per scenario, columns padded to the widest cell. */
export function renderTable(rows: TableRow[]): string {
  const header: TableRow = { scenario: "scenario", measurement: "measurement", median: "median", range: "min–max", n: "n" };
  const all = [header, ...rows];
  const width = (key: keyof TableRow) => Math.max(...all.map((r) => [...r[key]].length));
  const pad = (text: string, n: number, right = false) => {
    const fill = " ".repeat(Math.max(0, n - [...text].length));
    return right ? fill + text : text + fill;
  };
  const w = { scenario: width("scenario"), measurement: width("measurement"), median: width("median"), range: width("range"), n: width("n") };
  const line = (r: TableRow) =>
    `${pad(r.scenario, w.scenario)}  ${pad(r.measurement, w.measurement)}  ${pad(r.median, w.median, true)}  ${pad(r.range, w.range, true)}  ${pad(r.n, w.n, true)}`.trimEnd();
  const rule = "-".repeat(w.scenario + w.measurement + w.median + w.range + w.n + 8);
  const out = [line(header), rule];
  let previous = "";
  for (const row of rows) {
    if (row.scenario && previous && row.scenario !== previous) out.push("");
    if (row.scenario) previous = row.scenario;
    out.push(line(row));
  }
  return out.join("\n");
}
