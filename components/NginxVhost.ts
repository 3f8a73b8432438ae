import * as pulumi from "../lib/pulumi";
import { NGINX_UNIT } from "../lib/constants";
import { NixAttrs } from "../lib/nix";
import { GeneratedModuleArgs, generatedModule, NixModuleFile } from "./NixModuleFile";
import { engineInputs } from "./inputs";
import { VerificationCheck } from "./verification";

export interface NginxVhostArgs extends GeneratedModuleArgs {
  /** e.g. "immich.skylab.local". */
  hostName: string;
  /** Upstream address and port: the same address Immich binds to. */
  upstreamHost: string;
  upstreamPort: number;
  /** Immich's guidance: "50000M" (the NixOS default 10m breaks uploads). */
  clientMaxBodySize: string;
  /** More names the vhost answers (nixpkgs `serverAliases`), e.g. the tunnel's public host name. Default: none (not set). */
  serverAliases?: string[];
}

/** The nginx virtual host in front of Immich, configured as Immich's reverse-proxy guide says. */
export class NginxVhost extends pulumi.ComponentResource {
  public readonly module: NixModuleFile;
  /** What the apply verifies: nginx runs and answers for the virtual host with Immich's ping. */
  public readonly checks: VerificationCheck[];

  /** The module's path in the config repo. */
  static modulePath(generatedDir: string): string {
    return `${generatedDir}/nginx.nix`;
  }

  constructor(name: string, args: NginxVhostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:web:NginxVhost", name, engineInputs(args), opts);
    this.module = generatedModule(this, name, args, "NginxVhost", nginxVhostModule(args));
    this.checks = [
      { kind: "unit", unit: NGINX_UNIT },
      { kind: "http", url: "http://127.0.0.1/api/server/ping", expect: "pong", hostHeader: args.hostName },
    ];
    this.registerOutputs({ module: this.module.path, checks: this.checks });
  }
}

export function nginxVhostModule(args: Pick<NginxVhostArgs, "hostName" | "upstreamHost" | "upstreamPort" | "clientMaxBodySize" | "serverAliases">): NixAttrs {
  const aliases: NixAttrs = args.serverAliases?.length ? { serverAliases: args.serverAliases } : {};
  return {
    services: {
      nginx: {
        enable: true,
        virtualHosts: {
          [args.hostName]: {
            ...aliases,
            // Immich serves at the domain root; uploads are streamed, large and slow.
            extraConfig: [
              `client_max_body_size ${args.clientMaxBodySize};`,
              "client_body_buffer_size 1024k;",
              "proxy_request_buffering off;",
              "proxy_read_timeout 600s;",
              "proxy_send_timeout 600s;",
              "send_timeout 600s;",
              "",
            ].join("\n"),
            locations: {
              "/": {
                proxyPass: `http://${args.upstreamHost}:${args.upstreamPort}`,
                proxyWebsockets: true,
                // Host, X-Real-IP, X-Forwarded-For and X-Forwarded-Proto, as Immich's guide lists.
                recommendedProxySettings: true,
              },
            },
          },
        },
      },
    },
  };
}
