import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { hostPort, isLoopbackAddress } from "../lib/addresses";
import { resourceLabel, TYPES } from "../lib/resources";

export const NAME = "skylab-apps-require-loopback-binding";

export interface ImmichBinding {
  name: string;
  urn: string;
  host: string;
  port: number;
}

export interface VhostUpstream {
  name: string;
  urn: string;
  hostName: string;
  upstreamHost: string;
  upstreamPort: number;
}

/**
 * The violations, given every Immich and every vhost of the stack: each Immich bound to a loopback address
 * when a vhost fronts it, and each vhost's upstream exactly an Immich's address and port.
 */
export function loopbackViolations(immichs: readonly ImmichBinding[], vhosts: readonly VhostUpstream[]): { message: string; urn: string }[] {
  const violations: { message: string; urn: string }[] = [];
  if (vhosts.length === 0) return violations;
  const fronts = vhosts.map((v) => `${resourceLabel(TYPES.nginxVhost, v.name)} (${v.hostName})`).join(", ");
  for (const immich of immichs) {
    if (!isLoopbackAddress(immich.host)) {
      const why = immich.host === "localhost"
        ? '"localhost" resolves to ::1 or 127.0.0.1 depending on the resolver, and nginx then fails with 502 (nixpkgs #387934)'
        : "it is reachable from the network without going through nginx";
      violations.push({
        urn: immich.urn,
        message:
          `${resourceLabel(TYPES.immichModule, immich.name)} listens on ${hostPort(immich.host, immich.port)} while ${fronts} fronts it, ` +
          `and ${why}: set its host to "127.0.0.1" (stack config \`immich.host\`).`,
      });
    }
  }
  for (const vhost of vhosts) {
    const upstream = hostPort(vhost.upstreamHost, vhost.upstreamPort);
    if (immichs.some((i) => i.host === vhost.upstreamHost && i.port === vhost.upstreamPort)) continue;
    const targets = immichs.map((i) => hostPort(i.host, i.port));
    violations.push({
      urn: vhost.urn,
      message:
        `${resourceLabel(TYPES.nginxVhost, vhost.name)} (${vhost.hostName}) proxies to ${upstream}, ` +
        (targets.length > 0
          ? `but Immich listens on ${targets.join(", ")}: set its upstream to ${targets.length === 1 ? targets[0] : "one of them"}, the address Immich binds to.`
          : "but the stack has no Immich: remove the vhost or add the ImmichModule it fronts."),
    });
  }
  return violations;
}

/**
 * A fresh instance of the policy. Stack validation sees a component's outputs, not its inputs, so the
 * addresses are collected while the engine validates each resource and judged together at the end.
 */
export function createPolicy(): ResourceValidationPolicy & StackValidationPolicy {
  const immichs = new Map<string, ImmichBinding>();
  const vhosts = new Map<string, VhostUpstream>();
  return {
    name: NAME,
    description:
      "When an nginx virtual host fronts Immich, Immich must listen on a loopback address (127.0.0.0/8 or ::1, not " +
      "\"localhost\") and the vhost must proxy to exactly that address and port: otherwise Immich is reachable " +
      "around nginx, or nginx answers 502.",
    enforcementLevel: "advisory",
    validateResource: (args) => {
      if (args.type === TYPES.immichModule) {
        immichs.set(args.urn, { name: args.name, urn: args.urn, host: String(args.props.host), port: Number(args.props.port) });
      } else if (args.type === TYPES.nginxVhost) {
        vhosts.set(args.urn, {
          name: args.name,
          urn: args.urn,
          hostName: String(args.props.hostName),
          upstreamHost: String(args.props.upstreamHost),
          upstreamPort: Number(args.props.upstreamPort),
        });
      }
    },
    validateStack: (_args, reportViolation) => {
      for (const { message, urn } of loopbackViolations([...immichs.values()], [...vhosts.values()])) {
        reportViolation(message, urn);
      }
    },
  };
}

export const policy = createPolicy();
