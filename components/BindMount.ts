import * as pulumi from "../lib/pulumi";
import { slug } from "../lib/constants";
import { NixAttrs } from "../lib/nix";
import { GeneratedModuleArgs, generatedModule, NixModuleFile } from "./NixModuleFile";
import { engineInputs } from "./inputs";
import { declaredOptions, VerificationCheck } from "./verification";

export interface BindMountArgs extends GeneratedModuleArgs {
  /** The folder shown, e.g. "/home/zipang/Pictures/Digicam". */
  source: string;
  /** Where it appears, e.g. "/media/immich" (outside /home, which Immich's ProtectHome hides). */
  mountPoint: string;
  /** Default true: Immich's External Library only reads. */
  readOnly?: boolean;
  /** The user that must be able to list the mount point (Immich's), verified after an apply. Default: not checked. */
  readableBy?: string;
}

/** A bind mount of an existing folder (the Pictures folder, for Immich's External Library). */
export class BindMount extends pulumi.ComponentResource {
  public readonly module: NixModuleFile;
  /** What the apply verifies: the mount as written, and that `readableBy` can list it. */
  public readonly checks: pulumi.Output<VerificationCheck[]>;

  /** The module's path in the config repo: one file per mount point. */
  static modulePath(generatedDir: string, mountPoint: string): string {
    return `${generatedDir}/storage-${slug(mountPoint)}.nix`;
  }

  constructor(name: string, args: BindMountArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:storage:BindMount", name, engineInputs(args), opts);
    this.module = generatedModule(this, name, args, "BindMount", bindMountModule(args));
    const written = bindMountModule(args).fileSystems as Record<string, { options: string[] }>;
    this.checks = this.module.body.apply((body): VerificationCheck[] => [
      { kind: "mount", mountPoint: args.mountPoint, options: declaredOptions(body, args.mountPoint, written[args.mountPoint].options) },
      ...(args.readableBy ? [{ kind: "readable-by" as const, path: args.mountPoint, user: args.readableBy }] : []),
    ]);
    this.registerOutputs({ module: this.module.path, checks: this.checks });
  }
}

export function bindMountModule(args: Pick<BindMountArgs, "source" | "mountPoint" | "readOnly">): NixAttrs {
  const options = args.readOnly === false ? ["bind"] : ["bind", "ro"];
  return { fileSystems: { [args.mountPoint]: { device: args.source, fsType: "none", options } } };
}
