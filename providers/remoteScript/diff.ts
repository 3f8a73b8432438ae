// What the RemoteScript provider decides without touching the host: whether a script must run again
// (its diff and check), the drift of the file it writes, and the module text it writes.
import { createHash } from "crypto";
import { renderModuleJson } from "../../lib/nix";
import type { ScriptValue } from "../../lib/remote/shell";
import { connectionChanges } from "../shared/connectionChanges";
import { lineDiff } from "./lineDiff";
import { IN_SYNC, RemoteScriptProps } from "./props";

/** Input fields whose change means the host must be converged again. */
const CONVERGENCE_FIELDS = ["create", "update", "confirm", "values", "stdin", "description"] as const;
const CONNECTION_FIELDS = ["host", "port", "user", "hostKey", "become"] as const;

export interface ScriptDiff {
  changes: boolean;
  reasons: string[];
}

/**
 * Changes are a different script, different values, a different target, or drift found on the host.
 * A drift value going back to "in-sync" is not a change: that is the host after a repair, and treating it
 * as one would flip-flop between runs. A new private key or delete script alone is not a change either.
 */
export function diffScripts(olds: Partial<RemoteScriptProps>, news: RemoteScriptProps): ScriptDiff {
  const reasons: string[] = [];
  for (const field of CONVERGENCE_FIELDS) {
    if (JSON.stringify(olds[field] ?? null) !== JSON.stringify(news[field] ?? null)) reasons.push(`${field} changed`);
  }
  // The module by the text it renders to: what was written last (a renderer change counts) against what
  // would be written now (a policy's remediation counts).
  const written = lastWritten(olds);
  if (written !== digest(moduleText(news)) || olds.module?.value !== news.module?.value) reasons.push("module changed");
  reasons.push(...connectionChanges(olds.connection, news.connection, CONNECTION_FIELDS));
  const drift = convergedInputs(olds, news) ? recordedDrift(olds) : newDrift(news, written);
  if (drift) reasons.push(`drift: ${drift}`);
  return { changes: reasons.length > 0, reasons };
}

/**
 * Whether `news` are the very inputs the last create/update converged (the same `inputsId`, which check
 * stamps afresh on every operation's inputs). Only refresh diffs those: it asks the provider what an `up`
 * of the unchanged program would do, passing the refreshed outputs as olds and the stored inputs as news.
 * Their drift is the one that run repaired, not drift now.
 */
function convergedInputs(olds: Partial<RemoteScriptProps>, news: RemoteScriptProps): boolean {
  return news.inputsId !== undefined && news.inputsId === olds.inputsId;
}

/** Drift in fresh inputs (a preview's or up's host look). */
function newDrift(news: RemoteScriptProps, written: string | null): string | undefined {
  // A script that writes an observed file judges drift from what it is about to write (values may have
  // been remediated by a policy after `check` filled in `drift` for display).
  return news.observedFile ? observedFileDrift(news, written) : news.drift && news.drift !== IN_SYNC ? news.drift : undefined;
}

/** Drift a refresh recorded in the outputs (read.ts), or none. */
function recordedDrift(olds: Partial<RemoteScriptProps>): string | undefined {
  return olds.drift && olds.drift !== IN_SYNC ? olds.drift : undefined;
}

/**
 * The provider's check: a script that writes an observed file gets its `drift` from the observation, so
 * that the preview shows the reason (`~ drift: "in-sync" => "... was edited on the host"`).
 */
export function checkInputs(news: RemoteScriptProps, olds: Partial<RemoteScriptProps> = {}): RemoteScriptProps {
  if (!news.observedFile) return news;
  const checked = { ...news, observedFile: withoutConvergedText(news) };
  // Being created, the file is not there yet: that is the plan, not drift (and the reason would stay in
  // the stored inputs, shown as the old value of the next real drift).
  if (Object.keys(olds).length === 0) return { ...checked, drift: IN_SYNC };
  return { ...checked, drift: observedFileDrift(checked, lastWritten(olds)) ?? IN_SYNC };
}

/** sha256 of the module text the last run wrote (null: none). */
function lastWritten(olds: Partial<RemoteScriptProps>): string | null {
  return olds.moduleSha256 ?? digest(moduleText(olds));
}

/** The observation, its text kept only when the file differs from what is written: a converged file's text stays out of the state. */
function withoutConvergedText(news: RemoteScriptProps): RemoteScriptProps["observedFile"] {
  const { text, ...observed } = news.observedFile!;
  return text === undefined || observed.sha256 === digest(moduleText(news) ?? "") ? observed : { ...observed, text };
}

/** The provider's diff (see providers/fromCheckout.ts). */
export function diff(olds: Partial<RemoteScriptProps>, news: RemoteScriptProps): ScriptDiff {
  return diffScripts(olds, news);
}

/**
 * Why the file on the host differs from what the last run wrote and from what the script writes now,
 * or undefined. A file as the last run left it is not drift when the module itself changes: that is the
 * plan (the diff shows it as the module's change), not a hand edit.
 */
export function observedFileDrift(news: Pick<RemoteScriptProps, "observedFile" | "module">, lastWrittenSha256: string | null = null): string | undefined {
  const observed = news.observedFile;
  if (!observed) return undefined;
  if (observed.sha256 === null) return `${observed.path} was deleted on the host`;
  const content = moduleText(news) ?? "";
  if (observed.sha256 === digest(content) || (lastWrittenSha256 !== null && observed.sha256 === lastWrittenSha256)) return undefined;
  if (observed.text === undefined) return `${observed.path} was edited on the host`;
  return `${observed.path} was edited on the host; up puts back:\n${lineDiff(observed.text, content)}`;
}

/** The text the script writes for its module: the one rendering, used to write, to judge drift and to diff. */
export function moduleText(props: Pick<RemoteScriptProps, "module">): string | undefined {
  return props.module ? renderModuleJson(props.module) : undefined;
}

/** The values a script gets: the declared ones and the rendered module. */
export function scriptValues(props: Pick<RemoteScriptProps, "values" | "module">): Record<string, ScriptValue> {
  const values = props.values ?? {};
  const text = moduleText(props);
  return props.module && text !== undefined ? { ...values, [props.module.value]: text } : values;
}

/** Lowercase hex sha256 of the UTF-8 text (what the host look reports for a file); null for no text. */
export function digest(text: string): string;
export function digest(text: string | undefined): string | null;
export function digest(text: string | undefined): string | null {
  return text === undefined ? null : createHash("sha256").update(text, "utf8").digest("hex");
}
