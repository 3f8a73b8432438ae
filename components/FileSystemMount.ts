import * as pulumi from "../lib/pulumi";
import { slug } from "../lib/constants";
import { NixAttrs } from "../lib/nix";
import { GeneratedModuleArgs, generatedModule, NixModuleFile } from "./NixModuleFile";
import { engineInputs } from "./inputs";
import { declaredOptions, VerificationCheck } from "./verification";

export interface DirectoryOwnership {
  user: string;
  group: string;
  /** Octal mode, e.g. "0700" (what services.immich expects for its mediaLocation). */
  mode: string;
}

export interface FileSystemMountArgs extends GeneratedModuleArgs {
  /** Where it is mounted, e.g. "/var/lib/immich". */
  mountPoint: string;
  /** e.g. "/dev/disk/by-label/MEDIAS". */
  device: string;
  /** e.g. "btrfs". */
  fsType: string;
  /** Mount options in order, e.g. ["subvol=@immich", "compress=zstd", "noatime"]. */
  options: string[];
  /** Owner and mode of the mounted directory, as a systemd.tmpfiles rule. Default: left alone. */
  ownership?: DirectoryOwnership;
}

/** The NixOS `fileSystems` entry (fstab line) for one mount, in a module the program owns. */
export class FileSystemMount extends pulumi.ComponentResource {
  public readonly module: NixModuleFile;
  /** What the apply verifies: the mount with the options as written (after any remediation), and the ownership. */
  public readonly checks: pulumi.Output<VerificationCheck[]>;

  /** The module's path in the config repo: one file per mount point. */
  static modulePath(generatedDir: string, mountPoint: string): string {
    return `${generatedDir}/storage-${slug(mountPoint)}.nix`;
  }

  constructor(name: string, args: FileSystemMountArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:storage:FileSystemMount", name, engineInputs(args), opts);
    this.module = generatedModule(this, name, args, "FileSystemMount", fileSystemModule(args));
    this.checks = this.module.body.apply((body): VerificationCheck[] => [
      { kind: "mount", mountPoint: args.mountPoint, options: declaredOptions(body, args.mountPoint, args.options) },
      ...(args.ownership
        ? [{ kind: "owner" as const, path: args.mountPoint, owner: `${args.ownership.user}:${args.ownership.group}`, mode: args.ownership.mode }]
        : []),
    ]);
    this.registerOutputs({ module: this.module.path, checks: this.checks });
  }
}

export function fileSystemModule(args: Pick<FileSystemMountArgs, "mountPoint" | "device" | "fsType" | "options" | "ownership">): NixAttrs {
  const body: NixAttrs = {
    fileSystems: { [args.mountPoint]: { device: args.device, fsType: args.fsType, options: args.options } },
  };
  if (args.ownership) {
    const { user, group, mode } = args.ownership;
    body.systemd = { tmpfiles: { rules: [`d ${tmpfilesPath(args.mountPoint)} ${mode} ${user} ${group} -`] } };
  }
  return body;
}

/**
 * A path as one tmpfiles.d(5) field: `%` starts a specifier (so `%%`), and a path with whitespace,
 * quotes or backslashes is double-quoted with `\"` and `\\` escapes (systemd unquotes fields; it does
 * not decode \xNN in the path field).
 */
export function tmpfilesPath(path: string): string {
  const specifiersEscaped = path.replace(/%/g, "%%");
  if (!/[\s"'\\]/.test(specifiersEscaped)) return specifiersEscaped;
  return `"${specifiersEscaped.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
