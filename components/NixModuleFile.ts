import * as pulumi from "@pulumi/pulumi";
import { GENERATED_MARKER } from "../lib/constants";
import { createHash } from "crypto";
import { NixAttrs, NixJsonAttrs, nixToJson, renderModuleJson } from "../lib/nix";
import { ConnectionArgs, RemoteScript } from "../providers/RemoteScript";
import { engineInputs } from "./inputs";
import { loadScript } from "./shell";

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

/**
 * A NixOS module file that the program owns whole, written into the config repo and staged in git. The
 * body stays data up to its script's provider, which renders it just before writing: the engine, the
 * state and policies see `body` (lib/nix.ts NixJson), never the text.
 */
export class NixModuleFile extends pulumi.ComponentResource {
  public readonly path: pulumi.Output<string>;
  /** The body as it was written: the declared one after any policy remediation. */
  public readonly body: pulumi.Output<NixJsonAttrs>;
  /** sha256 of the text written for that body, as the host look reports it. */
  public readonly sha256: pulumi.Output<string>;

  constructor(name: string, args: NixModuleFileArgs, opts?: pulumi.ComponentResourceOptions) {
    const body = nixToJson(args.body);
    super("skylab:nixos:NixModuleFile", name, { ...engineInputs(args), body }, opts);
    const file = new RemoteScript(
      `${name}-file`,
      {
        connection: args.connection,
        description: pulumi.interpolate`NixOS module ${args.path}`,
        create: WRITE,
        delete: REMOVE,
        values: { REPO: args.configRepo, RELPATH: args.path, MARKER: GENERATED_MARKER },
        module: { value: "CONTENT", generator: args.generator, body },
        observedFile: args.hostSha256 === undefined ? undefined : {
          sha256: args.hostSha256, path: args.path, ...(args.hostText === undefined ? {} : { text: args.hostText }),
        },
      },
      { parent: this },
    );
    // The provider's outputs carry its inputs as the engine gave them, remediated or not.
    const written = file.module.apply((module) => {
      if (!module) throw new pulumi.ResourceError(`${name}-file came back without its module`, this);
      return module;
    });
    this.path = pulumi.output(args.path);
    this.body = written.apply((module) => module.body);
    this.sha256 = written.apply((module) => sha256(renderModuleJson(module)));
    this.registerOutputs({ path: this.path, body: this.body, sha256: this.sha256 });
  }
}

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
