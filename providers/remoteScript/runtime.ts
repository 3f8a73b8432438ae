// The half of the RemoteScript dynamic provider that runs inside the engine's provider process
// (`pulumi-resource-pulumi-nodejs`). The serialized provider in the state only `require`s this module
// from the program directory (providers/checkout-provider.js), so the state never carries a copy of this code
// or of anything it captured. It creates, updates and deletes; what to decide is in diff.ts.
import { ScriptValue, scriptWithArgs } from "../../lib/remote/shell";
import { describeSshFailure, runRemoteScript, SSH_FAILURE_EXIT_CODE } from "../../lib/remote/ssh";
import { sharedControlPath } from "../../lib/remote/sshMaster";
import { randomBytes } from "crypto";
import { hostname, userInfo } from "os";
import { checkInputs as checkedInputs, digest, moduleText, scriptValues } from "./diff";
import { progressReporter } from "./progress";
import { IN_SYNC, RemoteScriptProps } from "./props";

export { diff } from "./diff";
export { read } from "./read";

type Phase = "create" | "update" | "delete";

/** The provider's check: diff.ts's, with this operation's inputs stamped with a fresh `inputsId`. */
export function checkInputs(news: RemoteScriptProps, olds: Partial<RemoteScriptProps> = {}): RemoteScriptProps {
  return { ...checkedInputs(news, olds), inputsId: randomBytes(8).toString("hex") };
}

const CONFIRM_TOKEN_LINE = /^confirm-token: ([0-9a-f]+)$/m;

async function runPhase(props: RemoteScriptProps, phase: Phase): Promise<string> {
  const body = phase === "update" ? props.update ?? props.create : phase === "delete" ? props.delete : props.create;
  if (!body) return "";
  // Who runs this (user@machine), for the host's apply lock to name: known only here, at run time, so it is
  // not an input (another deployer of the same stack changes nothing).
  const values = { ...scriptValues(props), DEPLOYER: `${userInfo().username}@${hostname()}` };
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
    throw new Error(`${props.description} (${phase}) failed with exit code ${result.code} on ${props.connection.host}:\n${failureDetail(result.stderr)}`);
  }
  return result.stdout;
}

/**
 * What a failed program said, for the error: its last lines, but never cut below the first `error:` line (a Nix
 * error names the option, the files and the values on its first lines, and can be long). Progress lines are left
 * out: they were shown while it ran.
 */
export function failureDetail(stderr: string, tail = 15): string {
  const lines = stderr.trim().split("\n").filter((l) => !l.startsWith("progress: "));
  const firstError = lines.findIndex((l) => /^\s*error:/.test(l));
  const start = Math.max(0, lines.length - tail);
  return lines.slice(firstError >= 0 ? Math.min(firstError, start) : start).join("\n");
}

function outputsOf(props: RemoteScriptProps, stdout: string): RemoteScriptProps {
  const kept = props.logOutput ? stdout.trim().split("\n").slice(-40).join("\n") : "";
  const text = moduleText(props);
  // The file as this run left it, not as the look before the run found it: a refresh after a repair then
  // reads what is recorded and records nothing new.
  const observedFile = props.observedFile && text !== undefined ? { observedFile: { sha256: digest(text), path: props.observedFile.path } } : {};
  return { ...props, ...observedFile, drift: IN_SYNC, stdout: kept, ...(text === undefined ? {} : { moduleSha256: digest(text) }) };
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
