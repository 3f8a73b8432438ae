// The half of the RemoteScript dynamic provider that runs inside the engine's provider process
// (`pulumi-resource-pulumi-nodejs`). The serialized provider in the state only `require`s this module
// from the program directory, so the state never carries a copy of this code or of anything it captured.
import { createHash } from "crypto";
import { lineDiff } from "./lineDiff";
import { NixModuleJson, renderModuleJson } from "../lib/nix";
import { ScriptValue, scriptWithArgs } from "../lib/remote/shell";
import { describeSshFailure, runRemoteScript, SSH_FAILURE_EXIT_CODE, SshConnection } from "../lib/remote/ssh";
import { sharedControlPath } from "../lib/remote/sshMaster";

/** Drift value meaning the host matched the declared state when it was last looked at. */
export const IN_SYNC = "in-sync";

/** A generated NixOS module a script writes, carried as data until the provider renders it. */
export interface ScriptModule extends NixModuleJson {
  /** The script value that receives the rendered text, e.g. "CONTENT". */
  value: string;
}

/** Inputs as the provider sees them: plain values (the engine unwraps secrets for dynamic providers). */
export interface RemoteScriptProps {
  connection: SshConnection;
  description: string;
  create: string;
  update?: string;
  delete?: string;
  /**
   * Second step of a two-step script: when create/update/delete prints `confirm-token: <token>`, this
   * script runs over a NEW connection with CONFIRM_TOKEN set (proof the host is still reachable after the change).
   */
  confirm?: string;
  /** Values for the scripts, given to them as a quoted shell preamble (lists as bash arrays). */
  values: Record<string, ScriptValue>;
  /** Rendered into the value `module.value` just before a script runs (see {@link moduleText}). */
  module?: ScriptModule;
  stdin?: string;
  drift?: string;
  /**
   * The file this script writes, as the host look found it: `sha256` of the file on the host (null:
   * absent), compared in the diff with the sha256 of the rendered module. Comparing with what the script
   * is about to write (after any policy remediation) keeps it from flip-flopping.
   */
  observedFile?: { sha256: string | null; path: string; text?: string };
  logOutput: boolean;
  stdout?: string;
  /** Output: sha256 of the module text the last create or update wrote. */
  moduleSha256?: string;
}

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
  const written = olds.moduleSha256 ?? digest(moduleText(olds));
  if (written !== digest(moduleText(news)) || olds.module?.value !== news.module?.value) reasons.push("module changed");
  for (const field of CONNECTION_FIELDS) {
    if ((olds.connection?.[field] ?? null) !== (news.connection?.[field] ?? null)) reasons.push(`connection.${field} changed`);
  }
  // A script that writes an observed file judges drift from what it is about to write (values may have
  // been remediated by a policy after `check` filled in `drift` for display).
  const drift = news.observedFile ? observedFileDrift(news) : news.drift && news.drift !== IN_SYNC ? news.drift : undefined;
  if (drift) reasons.push(`drift: ${drift}`);
  return { changes: reasons.length > 0, reasons };
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
  return { ...checked, drift: observedFileDrift(checked) ?? IN_SYNC };
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

/** Why the file on the host differs from what the script writes, or undefined. */
export function observedFileDrift(news: Pick<RemoteScriptProps, "observedFile" | "module">): string | undefined {
  const observed = news.observedFile;
  if (!observed) return undefined;
  if (observed.sha256 === null) return `${observed.path} was deleted on the host`;
  const content = moduleText(news) ?? "";
  if (observed.sha256 === digest(content)) return undefined;
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
function digest(text: string): string;
function digest(text: string | undefined): string | null;
function digest(text: string | undefined): string | null {
  return text === undefined ? null : createHash("sha256").update(text, "utf8").digest("hex");
}

type Phase = "create" | "update" | "delete";

const CONFIRM_TOKEN_LINE = /^confirm-token: ([0-9a-f]+)$/m;

async function runPhase(props: RemoteScriptProps, phase: Phase): Promise<string> {
  const body = phase === "update" ? props.update ?? props.create : phase === "delete" ? props.delete : props.create;
  if (!body) return "";
  const values = scriptValues(props);
  const stdout = await runScript(props, body, phase, values, phase === "delete" ? undefined : props.stdin);
  const token = props.confirm ? CONFIRM_TOKEN_LINE.exec(stdout)?.[1] : undefined;
  if (!token || !props.confirm) return stdout;
  const confirmed = await runScript(props, props.confirm, "confirm", { ...values, CONFIRM_TOKEN: token });
  return `${stdout}\n${confirmed}`;
}

async function runScript(
  props: RemoteScriptProps, body: string, phase: string, values: Record<string, ScriptValue>, stdin?: string,
): Promise<string> {
  const reporter = progressReporter(props.description);
  const result = await runRemoteScript(props.connection, scriptWithArgs(body, values), {
    stdin,
    onStderrLine: reporter.line,
    // Every step shares the run's connection (opened by the host look), except the confirmation: it must
    // prove that a NEW connection still reaches the host after the change.
    controlPath: phase === "confirm" ? undefined : sharedControlPath(props.connection),
  });
  reporter.flush();
  if (result.code === SSH_FAILURE_EXIT_CODE && props.confirm && phase !== "confirm") {
    throw new Error(
      `${props.description} (${phase}): the SSH connection to ${props.connection.host} was lost while the change was ` +
        "being applied; it is not confirmed, so the host rolls itself back when the confirmation timeout ends. " +
        `Last output:\n${result.stdout.trim().split("\n").slice(-5).join("\n")}`,
    );
  }
  if (result.code === SSH_FAILURE_EXIT_CODE && !result.stdout) {
    throw new Error(`${props.description} (${phase}): ${describeSshFailure(props.connection, result.stderr)}`);
  }
  if (result.code !== 0) {
    const detail = result.stderr.trim().split("\n").filter((l) => !l.startsWith("progress: ")).slice(-15).join("\n");
    throw new Error(`${props.description} (${phase}) failed with exit code ${result.code} on ${props.connection.host}:\n${detail}`);
  }
  return result.stdout;
}

function outputsOf(props: RemoteScriptProps, stdout: string): RemoteScriptProps {
  const kept = props.logOutput ? stdout.trim().split("\n").slice(-40).join("\n") : "";
  const text = moduleText(props);
  return { ...props, drift: IN_SYNC, stdout: kept, ...(text === undefined ? {} : { moduleSha256: digest(text) }) };
}

export async function create(props: RemoteScriptProps): Promise<{ id: string; outs: RemoteScriptProps }> {
  const stdout = await runPhase(props, "create");
  return { id: `${props.connection.host}:${props.description}`, outs: outputsOf(props, stdout) };
}

export async function update(olds: RemoteScriptProps, news: RemoteScriptProps): Promise<{ outs: RemoteScriptProps }> {
  void olds;
  const stdout = await runPhase(news, "update");
  return { outs: outputsOf(news, stdout) };
}

export async function remove(props: RemoteScriptProps): Promise<void> {
  await runPhase(props, "delete");
}

/**
 * Long steps report progress: the script writes `progress: ...` lines to stderr and they reach the
 * engine's log, at most one every few seconds so a copy of many files does not flood it. A line held back
 * is sent when its window ends, so the last word before a long wait ("waiting for ...") is always shown.
 */
function progressReporter(description: string): { line: (line: string) => void; flush: () => void } {
  const engine = engineLog();
  const windowMs = 3000;
  let last = 0;
  let held: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const emit = (message: string) => engine(`${description}: ${message}`);
  const release = () => {
    timer = undefined;
    if (held === undefined) return;
    last = Date.now();
    emit(held);
    held = undefined;
  };
  return {
    line: (line: string) => {
      if (!line.startsWith("progress: ")) return;
      held = line.slice("progress: ".length);
      const wait = last + windowMs - Date.now();
      if (wait <= 0) release();
      else timer ??= setTimeout(release, wait);
    },
    flush: () => {
      if (timer) clearTimeout(timer);
      release();
    },
  };
}

/** Sends info messages to the engine that started this provider (its address is our first argument). */
function engineLog(): (message: string) => void {
  const address = process.argv[2];
  if (!address || !/^[\w.-]+:\d+$/.test(address)) return (message) => process.stderr.write(`${message}\n`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require("@grpc/grpc-js");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const engineProto = require("@pulumi/pulumi/proto/engine_pb");
  const client = new engineRpc.EngineClient(address, grpc.credentials.createInsecure());
  return (message) => {
    const request = new engineProto.LogRequest();
    request.setSeverity(engineProto.LogSeverity.INFO);
    request.setMessage(message);
    client.log(request, () => undefined);
  };
}
