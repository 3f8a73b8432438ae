import * as pulumi from "@pulumi/pulumi";
import { NixAttrs } from "../lib/nix";
import { ConnectionArgs } from "../providers/RemoteScript";
import { NixModuleFile } from "./NixModuleFile";
import { engineInputs } from "./scripts";

export interface BindMountArgs {
  connection: pulumi.Input<ConnectionArgs>;
  configRepo: pulumi.Input<string>;
  modulePath: pulumi.Input<string>;
  /** The folder shown, e.g. "/home/zipang/Pictures/Digicam". */
  source: string;
  /** Where it appears, e.g. "/media/immich" (outside /home, which Immich's ProtectHome hides). */
  mountPoint: string;
  /** Default true: Immich's External Library only reads. */
  readOnly?: boolean;
  /** sha256 of the generated module on the host as the host look found it (null: absent). */
  hostSha256?: string | null;
  /** The file\'s text on the host as the host look found it (small files only). */
  hostText?: string;
}

/** A bind mount of an existing folder (the Pictures folder, for Immich's External Library). */
export class BindMount extends pulumi.ComponentResource {
  public readonly module: NixModuleFile;

  constructor(name: string, args: BindMountArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:storage:BindMount", name, engineInputs(args), opts);
    this.module = new NixModuleFile(
      `${name}-module`,
      {
        connection: args.connection,
        configRepo: args.configRepo,
        path: args.modulePath,
        generator: "BindMount",
        body: bindMountModule(args),
        hostSha256: args.hostSha256,
        hostText: args.hostText,
      },
      { parent: this },
    );
    this.registerOutputs({ module: this.module.path });
  }
}

export function bindMountModule(args: Pick<BindMountArgs, "source" | "mountPoint" | "readOnly">): NixAttrs {
  const options = args.readOnly === false ? ["bind"] : ["bind", "ro"];
  return { fileSystems: { [args.mountPoint]: { device: args.source, fsType: "none", options } } };
}
