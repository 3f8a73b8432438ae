import type { ResourceValidationPolicy } from "@pulumi/policy";
import { resourceLabel, TYPES } from "../lib/resources";
import { parseNginxSize } from "../lib/sizes";

export const NAME = "skylab-web-require-large-upload-size";

/** Immich's reverse-proxy guide. */
export const DEFAULT_MINIMUM = "50000M";

export interface UploadSizeConfig {
  /** Smallest acceptable client_max_body_size, as an nginx size. */
  minimum?: string;
}

export const policy: ResourceValidationPolicy = {
  name: NAME,
  description:
    `The nginx virtual host in front of Immich must accept request bodies of at least ${DEFAULT_MINIMUM} (configurable): ` +
    "phone backups upload whole videos in one request, and nginx's default of 1m (10m on NixOS) rejects them with 413.",
  enforcementLevel: "advisory",
  configSchema: {
    properties: {
      minimum: { type: "string", pattern: "^[0-9]+[kKmMgG]?$", default: DEFAULT_MINIMUM },
    },
  },
  validateResource: (args, reportViolation) => {
    if (args.type !== TYPES.nginxVhost) return;
    const minimum = args.getConfig<UploadSizeConfig>().minimum ?? DEFAULT_MINIMUM;
    const minimumBytes = parseNginxSize(minimum);
    if (minimumBytes === undefined) {
      throw new Error(`${NAME}: \`minimum\` must be an nginx size like "50000M" (got ${JSON.stringify(minimum)})`);
    }
    const label = `${resourceLabel(args.type, args.name)} (${args.props.hostName})`;
    const size = String(args.props.clientMaxBodySize);
    const bytes = parseNginxSize(size);
    const fix = `set \`clientMaxBodySize\` to "${minimum}" or more (stack config \`nginx.clientMaxBodySize\`)`;
    if (bytes === undefined) {
      reportViolation(`${label} sets client_max_body_size to ${JSON.stringify(size)}, which is not an nginx size: ${fix}.`);
    } else if (bytes !== 0 && bytes < minimumBytes) {
      // 0 turns the limit off, which is large enough.
      reportViolation(`${label} sets client_max_body_size to "${size}", below ${minimum}: ${fix}.`);
    }
  },
};
