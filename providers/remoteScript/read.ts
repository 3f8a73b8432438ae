// RemoteScript's read (`pulumi refresh`): what the host holds now, for the scripts that know what to look
// at. A script that writes an observed file (a generated module) reads that file's sha256 and its text
// over SSH; every other script has nothing it could observe and keeps its props as they are.
import { join } from "path";
import { loadShellScript } from "../../lib/remote/scripts";
import { scriptWithArgs } from "../../lib/remote/shell";
import { describeSshFailure, runRemoteScript, SSH_FAILURE_EXIT_CODE } from "../../lib/remote/ssh";
import { digest, moduleText, observedFileDrift } from "./diff";
import { IN_SYNC, RemoteScriptProps } from "./props";

const OBSERVE_FILE = loadShellScript(join(__dirname, "..", "..", "lib", "remote"), "observe-file.sh");

/** What the look at one file found: sha256 null when the file is absent, text only for small plain files. */
export interface FileObservation {
  sha256: string | null;
  text?: string;
}

/** The config repo and the file's path in it, when this script writes an observed file. */
export function observedLocation(props: RemoteScriptProps): { repo: string; path: string } | undefined {
  const repo = props.values?.REPO;
  if (!props.observedFile || !props.module || typeof repo !== "string") return undefined;
  return { repo, path: props.observedFile.path };
}

/**
 * The props with the observation recorded: `observedFile` as found (its text only when the file differs
 * from what the script writes, as check keeps it) and `drift` saying why it differs from what the last
 * run wrote, or in-sync. Everything else, the connection with its private key included, is returned as
 * it was given: the read adds nothing but the file's digest and, for a hand-edited module, its text.
 */
export function recordObservation(props: RemoteScriptProps, observed: FileObservation): RemoteScriptProps {
  const path = props.observedFile!.path;
  const written = moduleText(props) ?? "";
  const differs = observed.sha256 !== digest(written);
  const observedFile = { sha256: observed.sha256, path, ...(differs && observed.text !== undefined ? { text: observed.text } : {}) };
  const drift = observedFileDrift({ observedFile, module: props.module }, props.moduleSha256 ?? null) ?? IN_SYNC;
  return { ...props, observedFile, drift };
}

/** Parses observe-file.sh's document (exact shape, or an error naming the file). */
export function parseObservation(stdout: string, path: string): FileObservation {
  const parsed = JSON.parse(stdout) as unknown;
  if (typeof parsed === "object" && parsed !== null) {
    const { sha256, text } = parsed as { sha256?: unknown; text?: unknown };
    if ((sha256 === null || (typeof sha256 === "string" && /^[0-9a-f]{64}$/.test(sha256))) && (text === undefined || typeof text === "string")) {
      return text === undefined ? { sha256 } : { sha256, text };
    }
  }
  throw new Error(`the look at ${path} returned an unexpected document: ${stdout.trim().slice(0, 200)}`);
}

/**
 * The provider's read. It runs without the program, so with no run's shared master: the look opens a
 * connection of its own, with the pinned host key like every other.
 */
export async function read(id: string, props: RemoteScriptProps): Promise<{ id: string; props: RemoteScriptProps }> {
  const location = observedLocation(props);
  if (!location) return { id, props };
  const result = await runRemoteScript(props.connection, scriptWithArgs(OBSERVE_FILE, { REPO: location.repo, RELPATH: location.path }));
  if (result.code === SSH_FAILURE_EXIT_CODE && !result.stdout) {
    throw new Error(`${props.description} (read): ${describeSshFailure(props.connection, result.stderr)}`);
  }
  if (result.code !== 0) {
    throw new Error(`${props.description} (read) failed with exit code ${result.code} on ${props.connection.host}:\n${result.stderr.trim().split("\n").slice(-15).join("\n")}`);
  }
  return { id, props: recordObservation(props, parseObservation(result.stdout, location.path)) };
}
