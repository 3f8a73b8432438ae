import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { NixAttrs, renderModule } from "../lib/nix";
import { ConnectionArgs, RemoteScript } from "../providers/RemoteScript";
import { GENERATED_MARKER, loadScript, engineInputs } from "./scripts";

const WRITE = loadScript("module-file-write.sh");
const REMOVE = loadScript("module-file-remove.sh");

export interface NixModuleFileArgs {
  connection: pulumi.Input<ConnectionArgs>;
  /** Absolute path of the NixOS configuration repository on the host. */
  configRepo: pulumi.Input<string>;
  /** Path of the module inside configRepo; the program owns this file whole. */
  path: pulumi.Input<string>;
  /** Which component generated it (named in the file header). */
  generator: string;
  /** The module's attribute set, rendered by the one Nix renderer. Plain values only, never secrets. */
  body: NixAttrs;
  /** sha256 of the file on the host as the host look found it (null: absent; omitted: not looked at). */
  hostSha256?: string | null;
  /** Its text on the host as the host look found it: a preview of a hand edit shows the lines put back. */
  hostText?: string;
}

/** A NixOS module file that the program owns whole, written into the config repo and staged in git. */
export class NixModuleFile extends pulumi.ComponentResource {
  public readonly path: pulumi.Output<string>;
  /** The rendered module text. */
  public readonly content: pulumi.Output<string>;
  /** sha256 of the content, as the host look reports it. */
  public readonly sha256: pulumi.Output<string>;

  constructor(name: string, args: NixModuleFileArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:nixos:NixModuleFile", name, engineInputs(args), opts);
    const content = renderModule({ generator: args.generator, body: args.body });
    const file = new RemoteScript(
      `${name}-file`,
      {
        connection: args.connection,
        description: pulumi.interpolate`NixOS module ${args.path}`,
        create: WRITE,
        delete: REMOVE,
        values: { REPO: args.configRepo, RELPATH: args.path, CONTENT: content, MARKER: GENERATED_MARKER },
        observedFile: args.hostSha256 === undefined ? undefined : {
          sha256: args.hostSha256, value: "CONTENT", path: args.path,
          // Kept only when it differs from what is written: a converged file's text stays out of the state.
          ...(args.hostText !== undefined && args.hostSha256 !== sha256(content) ? { text: args.hostText } : {}),
        },
      },
      { parent: this },
    );
    this.path = pulumi.output(args.path);
    this.content = file.stdout.apply(() => content);
    this.sha256 = pulumi.output(sha256(content));
    this.registerOutputs({ path: this.path, content: this.content, sha256: this.sha256 });
  }
}

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
