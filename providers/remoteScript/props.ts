// The RemoteScript provider's inputs and outputs as its runtime sees them.
import type { NixModuleJson } from "../../lib/nix";
import type { ScriptValue } from "../../lib/remote/shell";
import type { SshConnection } from "../../lib/remote/ssh";

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
  /**
   * A fresh id check stamps on each operation's inputs (runtime.ts), kept in the outputs by create and
   * update: the diff tells the inputs a run converged (what a refresh diffs against) from fresh ones.
   */
  inputsId?: string;
  logOutput: boolean;
  stdout?: string;
  /** Output: sha256 of the module text the last create or update wrote. */
  moduleSha256?: string;
}
