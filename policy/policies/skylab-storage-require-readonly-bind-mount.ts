import type { ResourceValidationPolicy } from "@pulumi/policy";
import { fileSystemEntries, judgesModuleOf } from "../lib/generatedModules";
import { resourceLabel, stringList, TYPES } from "../lib/resources";

export const NAME = "skylab-storage-require-readonly-bind-mount";

export const policy: ResourceValidationPolicy = {
  name: NAME,
  description:
    "The bind mount that shows the pictures folder to Immich's External Library must be read-only: Immich only " +
    "reads an external library, and a writable mount would let it (or anyone who takes it over) change or delete " +
    "the originals.",
  enforcementLevel: "advisory",
  validateResource: (args, reportViolation) => {
    const label = resourceLabel(args.type, args.name);
    if (args.type === TYPES.bindMount) {
      if (args.props.readOnly === false) {
        reportViolation(
          `Bind mount ${args.props.mountPoint} of ${label} (from ${args.props.source}) is writable: ` +
            "set `readOnly` to true, or leave it unset (the default is read-only).",
        );
      }
      return;
    }
    // The generated module is what NixOS mounts, whoever built it.
    if (!judgesModuleOf(args)) return;
    for (const { mountPoint, entry, label: module, file } of fileSystemEntries(args)) {
      const options = stringList(entry.options) ?? [];
      if (!(options.includes("bind") || options.includes("rbind")) || options.includes("ro")) continue;
      reportViolation(
        `Bind mount ${mountPoint} in ${module} (${file}, from ${entry.device}) is writable: add "ro" to its options ` +
          "(BindMount does unless `readOnly` is false).",
      );
    }
  },
};
