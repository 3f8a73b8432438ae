import type { ResourceValidationPolicy } from "@pulumi/policy";
import { resourceLabel, stringList, TYPES } from "../lib/resources";

export const NAME = "skylab-storage-disallow-unguarded-data-deletion";

export interface DataDeletionConfig {
  /** Names of the BtrfsSubvolume components whose data `destroy` may delete. */
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
    if (args.type !== TYPES.btrfsSubvolume) return;
    const allowed = stringList(args.getConfig<DataDeletionConfig>().allowDataLossFor) ?? [];
    if (args.props.allowDataLoss !== true || allowed.includes(args.name)) return;
    reportViolation(
      `${resourceLabel(args.type, args.name)} has \`allowDataLoss\` set, so \`pulumi destroy\` would delete subvolume ` +
        `${args.props.subvolume} on ${args.props.mediasLabel} with all its data, but the policy pack config does not allow ` +
        `it: ${configHint(args.name)} if that is intended, otherwise set \`allowDataLoss\` to false (stack config ` +
        "`storage.allowDataLoss`).",
    );
  },
};
