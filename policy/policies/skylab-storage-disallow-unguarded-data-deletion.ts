import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isRecord, nameFromUrn, resourceLabel, stringList, typeFromUrn, TYPES } from "../lib/resources";

export const NAME = "skylab-storage-disallow-unguarded-data-deletion";

export interface DataDeletionConfig {
  /** Names of the BtrfsSubvolume components (or of their remote scripts) whose data `destroy` may delete. */
  allowDataLossFor?: string[];
}

function configHint(name: string): string {
  return `add "${name}" to \`allowDataLossFor\` of ${NAME} in the policy pack config (--policy-pack-config)`;
}

export const policy: ResourceValidationPolicy = {
  name: NAME,
  description:
    "A BTRFS subvolume may be deleted with its data by `pulumi destroy` only when both the stack (`allowDataLoss`) " +
    "and the policy pack config (`allowDataLossFor`) say so: the subvolume holds every photo Immich stored, and one " +
    "flag set by mistake must not be enough to lose them.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      allowDataLossFor: { type: "array", items: { type: "string" }, default: [] },
    },
  },
  validateResource: (args, reportViolation) => {
    const allowed = stringList(args.getConfig<DataDeletionConfig>().allowDataLossFor) ?? [];
    const label = resourceLabel(args.type, args.name);
    if (args.type === TYPES.btrfsSubvolume) {
      if (args.props.allowDataLoss !== true || allowed.includes(args.name)) return;
      reportViolation(
        `${label} has \`allowDataLoss\` set, so \`pulumi destroy\` would delete subvolume ${args.props.subvolume} on ` +
          `${args.props.mediasLabel} with all its data, but the policy pack config does not allow it: ${configHint(args.name)} ` +
          "if that is intended, otherwise set `allowDataLoss` to false (stack config `storage.allowDataLoss`).",
      );
      return;
    }
    // The delete script reads this value, whichever component (or user code) built the script.
    const values = args.type === TYPES.remoteScript ? args.props.values : undefined;
    if (!isRecord(values) || values.ALLOW_DATA_LOSS !== "true") return;
    const parentUrn = args.opts.parent;
    const parent = parentUrn && typeFromUrn(parentUrn) !== "pulumi:pulumi:Stack" ? nameFromUrn(parentUrn) : undefined;
    if (allowed.includes(args.name) || (parent !== undefined && allowed.includes(parent))) return;
    const owner = parent ?? args.name;
    reportViolation(
      `${label} runs with ALLOW_DATA_LOSS=true, so its delete script would delete the data on \`pulumi destroy\`, ` +
        `but the policy pack config does not allow it: ${configHint(owner)} if that is intended, otherwise set ` +
        "`allowDataLoss` to false (stack config `storage.allowDataLoss`).",
    );
  },
};
