import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { hostPort, isLoopbackAddress } from "../lib/addresses";
import { resourceLabel, TYPES } from "../lib/resources";

export const NAME = "skylab-web-require-tunnel-through-nginx";

/** nginx's address on the host, as the program's vhost listens (port 80). */
export const NGINX_ORIGIN = "http://127.0.0.1:80";

export interface Tunnel {
  name: string;
  urn: string;
  publicHostName: string;
  origin: string;
}

export interface Vhost {
  hostName: string;
  serverAliases: string[];
}

export interface Immich {
  host: string;
  port: number;
}

/** { host, port } of an http(s)://HOST[:PORT] origin (ports defaulted as cloudflared does), or undefined. */
export function parseOrigin(origin: string): { scheme: string; host: string; port: number } | undefined {
  const match = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(origin);
  if (!match) return undefined;
  const host = match[2].startsWith("[") ? match[2].slice(1, -1) : match[2];
  return { scheme: match[1], host, port: match[3] ? Number(match[3]) : match[1] === "https" ? 443 : 80 };
}

/**
 * The violations, given every tunnel, vhost and Immich of the stack: each tunnel's public host name goes to
 * nginx on this host (http, a loopback address, port 80), never to Immich's port, and a vhost answers it.
 */
export function tunnelViolations(tunnels: readonly Tunnel[], vhosts: readonly Vhost[], immichs: readonly Immich[]): { message: string; urn: string }[] {
  const violations: { message: string; urn: string }[] = [];
  const fix = `set its origin to ${NGINX_ORIGIN} (nginx)`;
  for (const tunnel of tunnels) {
    const label = `${resourceLabel(TYPES.cloudflareTunnel, tunnel.name)} (${tunnel.publicHostName})`;
    const origin = parseOrigin(tunnel.origin);
    const immich = origin && immichs.find((i) => i.port === origin.port && (i.host === origin.host || isLoopbackAddress(origin.host)));
    if (immich) {
      violations.push({
        urn: tunnel.urn,
        message:
          `${label} sends its public host name to ${tunnel.origin}, Immich's own port ${hostPort(immich.host, immich.port)}: ` +
          `requests from the internet would skip nginx (its upload size, timeouts and headers): ${fix}.`,
      });
    } else if (!origin || origin.scheme !== "http" || origin.port !== 80 || !isLoopbackAddress(origin.host)) {
      violations.push({
        urn: tunnel.urn,
        message: `${label} sends its public host name to ${JSON.stringify(tunnel.origin)}, which is not nginx on this host: ${fix}.`,
      });
    }
    if (!vhosts.some((v) => v.hostName === tunnel.publicHostName || v.serverAliases.includes(tunnel.publicHostName))) {
      violations.push({
        urn: tunnel.urn,
        message:
          `${label}: no NginxVhost answers ${tunnel.publicHostName}, so nginx serves the tunnel's requests from another server block: ` +
          "add it to the vhost's `serverAliases` (the program does so when `tunnel.enabled` is true).",
      });
    }
  }
  return violations;
}

/**
 * A fresh instance of the policy. Stack validation sees a component's outputs, not its inputs, so the
 * typed args are collected while the engine validates each resource and judged together at the end.
 */
export function createPolicy(): ResourceValidationPolicy & StackValidationPolicy {
  const tunnels = new Map<string, Tunnel>();
  const vhosts = new Map<string, Vhost>();
  const immichs = new Map<string, Immich>();
  return {
    name: NAME,
    description:
      "A Cloudflare Tunnel's public host name must reach nginx on this host (http, a loopback address, port 80), " +
      "never Immich's port directly, and an nginx virtual host must answer that name: nginx is where the upload " +
      "size, timeouts and proxy headers Immich needs are set.",
    enforcementLevel: "advisory",
    validateResource: (args) => {
      if (args.type === TYPES.cloudflareTunnel) {
        tunnels.set(args.urn, {
          name: args.name, urn: args.urn, publicHostName: String(args.props.publicHostName), origin: String(args.props.origin),
        });
      } else if (args.type === TYPES.nginxVhost) {
        const aliases = args.props.serverAliases;
        vhosts.set(args.urn, {
          hostName: String(args.props.hostName),
          serverAliases: Array.isArray(aliases) ? aliases.filter((a): a is string => typeof a === "string") : [],
        });
      } else if (args.type === TYPES.immichModule) {
        immichs.set(args.urn, { host: String(args.props.host), port: Number(args.props.port) });
      }
    },
    validateStack: (_args, reportViolation) => {
      for (const { message, urn } of tunnelViolations([...tunnels.values()], [...vhosts.values()], [...immichs.values()])) {
        reportViolation(message, urn);
      }
    },
  };
}

export const policy = createPolicy();
