import * as pulumi from "../../lib/pulumi";
import type { Become } from "../../lib/remote/ssh";
import { CheckoutResource } from "../fromCheckout";
import type { ScriptModule } from "./props";

export type { ScriptModule };

/** How to reach the host. Every remote script pins the host key; there is no way to turn that off. */
export interface ConnectionArgs {
  host: pulumi.Input<string>;
  /** Default 22. */
  port: pulumi.Input<number>;
  /** Login user: `root`, or an admin user with passwordless sudo (then `become: "sudo"`). */
  user: pulumi.Input<string>;
  /** The host's public key, authorized_keys format (`ssh-ed25519 AAAA...`). */
  hostKey: pulumi.Input<string>;
  /** PEM/OpenSSH private key. Always a Pulumi secret. */
  privateKey: pulumi.Input<string>;
  become: pulumi.Input<Become>;
}

export interface RemoteScriptArgs {
  connection: pulumi.Input<ConnectionArgs>;
  /** What the script converges, used in progress and error messages: "btrfs subvolume @immich on MEDIAS". */
  description: pulumi.Input<string>;
  /** Script text (starts with `set -euo pipefail`); it checks before it acts and may run twice. */
  create: pulumi.Input<string>;
  /** Run when inputs change or drift is found. Default: `create`. */
  update?: pulumi.Input<string>;
  /**
   * Second step: when create/update/delete prints `confirm-token: <token>`, this runs over a NEW
   * connection with CONFIRM_TOKEN among its values. Used by the apply step's confirmation ("magic rollback").
   */
  confirm?: pulumi.Input<string>;
  /** Run on destroy or removal. Default: nothing. */
  delete?: pulumi.Input<string>;
  /** Values for the scripts, given to them as a quoted shell preamble (never spliced into the text); lists become bash arrays. */
  values?: pulumi.Input<Record<string, pulumi.Input<string> | pulumi.Input<string[]>>>;
  /** Secret bytes for the script's standard input: never in a command line, argv or environment. */
  stdin?: pulumi.Input<string>;
  /** "in-sync", or why the host no longer matches what the last `up` left: then the script runs again. */
  drift?: pulumi.Input<string>;
  /**
   * A generated NixOS module the script writes, as typed data: the provider renders it (lib/nix.ts) just
   * before the script runs and hands the text to the script as the value `module.value`. Policies read
   * and remediate `module.body` here, so what they leave is what reaches the host.
   */
  module?: pulumi.Input<ScriptModule>;
  /**
   * The file the script writes as the host look found it (sha256, null when absent; its text when the host
   * look read it): the diff compares it with the sha256 of the rendered `module`, so a file edited or
   * deleted by hand is written again.
   */
  observedFile?: pulumi.Input<{ sha256: pulumi.Input<string | null>; path: pulumi.Input<string>; text?: string }>;
  /** Keep the script's stdout (last 40 lines) in the state. Default true; false for scripts near secrets. */
  logOutput?: boolean;
}


/**
 * A script run on a host over SSH with a pinned host key: created, updated when its inputs change or
 * drift is found, and undone by its delete script. Our replacement for @pulumi/command's remote.Command
 * (whose provider plugin cannot be built here), with a diff that knows about drift.
 */
export class RemoteScript extends CheckoutResource {
  declare public readonly stdout: pulumi.Output<string>;
  declare public readonly drift: pulumi.Output<string>;
  /** A fresh id from each create or update: changes exactly when the script ran (e.g. a secret rotated). */
  declare public readonly inputsId: pulumi.Output<string>;
  /** The module as the provider wrote it: the args' module after any policy remediation. */
  declare public readonly module: pulumi.Output<ScriptModule | undefined>;

  constructor(name: string, args: RemoteScriptArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      "remoteScript/runtime",
      "RemoteScript",
      name,
      {
        ...args,
        values: args.values ?? {},
        stdin: args.stdin,
        drift: args.drift ?? "in-sync",
        logOutput: args.logOutput ?? true,
        stdout: undefined,
        inputsId: undefined,
      },
      { ...opts, additionalSecretOutputs: ["stdin"] },
    );
  }
}
