import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { btrfsOptionProblems, FixHints, remediateBtrfsOptions, zstdLevelsFrom } from "../lib/btrfsMountOptions";
import { fileSystemEntries, judgesModuleOf } from "../lib/generatedModules";
import { resourceLabel, stringList, TYPES } from "../lib/resources";

export const NAME = "skylab-storage-enforce-btrfs-mount-options";

export interface BtrfsMountOptionsConfig {
  minimumZstdLevel?: number;
  maximumZstdLevel?: number;
}

/** Where the program's data mount takes its options from, so the message can name the stack setting. */
const STACK_HINTS: FixHints = {
  compression: "stack config `storage.compression`",
  mountOptions: "stack config `storage.mountOptions`",
};

interface Mount {
  options: string[];
  /** "BTRFS mount /var/lib/immich of FileSystemMount "immich-data-mount"". */
  subject: string;
  hints: FixHints;
  /** Writes remediated options back into the resource's props (through the policy SDK's proxy). */
  set(options: string[]): void;
}

/**
 * The BTRFS mounts a resource declares: a FileSystemMount's own, and every `fileSystems` entry with fsType
 * "btrfs" in a generated module's typed body (a NixModuleFile's, and its RemoteScript's, which is what the
 * provider renders and writes), whoever built it.
 */
function btrfsMounts(args: ResourceValidationArgs): Mount[] {
  const props = args.props;
  if (args.type === TYPES.fileSystemMount) {
    if (props.fsType !== "btrfs") return [];
    return [{
      options: stringList(props.options) ?? [],
      subject: `BTRFS mount ${props.mountPoint} of ${resourceLabel(args.type, args.name)}`,
      hints: STACK_HINTS,
      set: (fixed) => { props.options = fixed; },
    }];
  }
  return fileSystemEntries(args)
    .filter(({ entry }) => entry.fsType === "btrfs")
    .map(({ mountPoint, entry, label, file, generator }) => ({
      options: stringList(entry.options) ?? [],
      subject: `BTRFS mount ${mountPoint} in ${label} (${file})`,
      hints: generator === "FileSystemMount" ? STACK_HINTS : {},
      set: (fixed: string[]) => { entry.options = fixed; },
    }));
}

export const policy: ResourceValidationPolicy = {
  name: NAME,
  description:
    "Every BTRFS mount the program manages must use compress=zstd (compress-force=zstd, or a zstd level in the " +
    "allowed range, also counts) and noatime, and no option that undoes them (nodatacow, nodatasum, another " +
    "compression, atime, strictatime, relatime): zstd saves space on the photo library at little CPU cost, and " +
    "without noatime every read of a photo writes metadata, which on a copy-on-write filesystem fragments it and " +
    "bloats snapshots.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      minimumZstdLevel: { type: "integer", minimum: 1, maximum: 15, default: 1 },
      maximumZstdLevel: { type: "integer", minimum: 1, maximum: 15, default: 15 },
    },
  },
  validateResource: (args, reportViolation) => {
    if (!judgesModuleOf(args)) return;
    const levels = zstdLevelsFrom(args.getConfig<BtrfsMountOptionsConfig>());
    for (const mount of btrfsMounts(args)) {
      for (const problem of btrfsOptionProblems(mount.options, levels, mount.hints)) {
        reportViolation(`${mount.subject} ${problem}.`);
      }
    }
  },
  // Only runs when the pack config sets this policy to "remediate". Props are changed in place: the
  // policy SDK's proxy keeps secrets (the connection's private key) secret only on in-place writes.
  remediateResource: (args) => {
    const levels = zstdLevelsFrom(args.getConfig<BtrfsMountOptionsConfig>());
    let changed = false;
    for (const mount of btrfsMounts(args)) {
      const fixed = remediateBtrfsOptions(mount.options, levels);
      if (fixed.join("\n") !== mount.options.join("\n")) {
        mount.set(fixed);
        changed = true;
      }
    }
    return changed ? args.props : undefined;
  },
};
