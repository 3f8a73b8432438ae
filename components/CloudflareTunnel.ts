import * as pulumi from "../lib/pulumi";
import { cloudflaredUnit } from "../lib/constants";
import { NixAttrs } from "../lib/nix";
import { engineInputs } from "./inputs";
import { GeneratedModuleArgs, generatedModule, NixModuleFile } from "./NixModuleFile";
import { SopsSecret } from "./SopsSecret";
import { VerificationCheck } from "./verification";

export interface CloudflareTunnelArgs extends GeneratedModuleArgs {
  /** The tunnel's UUID: the attribute name under nixpkgs' services.cloudflared.tunnels. */
  tunnelId: string;
  /** The public name the tunnel routes, e.g. "photos.example.com". */
  publicHostName: string;
  /** Where the ingress rule sends the public host name: nginx (lib/constants NGINX_ORIGIN), never Immich's port. */
  origin: string;
  /** The credentials JSON (`cloudflared tunnel create`), a Pulumi secret; it reaches sops on stdin only. */
  credentials: pulumi.Input<string>;
  /** The sops file inside configRepo and the key of the credentials in it, e.g. "cloudflared/credentials". */
  sopsFile: string;
  credentialsKey: string;
  ageKeyFile: string;
  /** Path of the sops-nix declaration of the credentials inside configRepo (its own module file). */
  secretModulePath: string;
  /** sha256 and text of that module as the host look found it. */
  secretHostSha256?: string | null;
  secretHostText?: string;
  /** "in-sync", or why the credentials key is missing from the sops file. */
  credentialsDrift?: pulumi.Input<string>;
  stateDir?: string;
}

/**
 * services.cloudflared with one tunnel whose only ingress rule sends the public host name to nginx, and
 * its credentials file through sops-nix. nixpkgs runs the tunnel with DynamicUser and hands it the file
 * with LoadCredential, which systemd (root) reads: the secret is root:root 0400, and no other user can
 * read it (there is no fixed cloudflared user to own it).
 */
export class CloudflareTunnel extends pulumi.ComponentResource {
  public readonly module: NixModuleFile;
  public readonly credentials: SopsSecret;
  /** What the apply verifies: the credentials file (owner, mode) and the tunnel's unit. */
  public readonly checks: VerificationCheck[];
  public readonly unit: string;

  /** The module's path in the config repo. */
  static modulePath(generatedDir: string): string {
    return `${generatedDir}/cloudflared.nix`;
  }

  /** The path of the credentials' sops-nix declaration in the config repo. */
  static secretModulePath(generatedDir: string): string {
    return `${generatedDir}/cloudflared-secrets.nix`;
  }

  constructor(name: string, args: CloudflareTunnelArgs, opts?: pulumi.ComponentResourceOptions) {
    // The credentials stay out of the component's inputs (components send their inputs to the engine), and
    // so does what the host look found of its secret's module and key, as engineInputs leaves out its own.
    const { credentials, secretHostSha256: _sha, secretHostText: _text, credentialsDrift: _drift, ...visible } = engineInputs(args);
    super("skylab:web:CloudflareTunnel", name, visible, opts);
    const problem = tunnelProblem(args);
    if (problem) throw new pulumi.ResourceError(problem, this);
    this.unit = cloudflaredUnit(args.tunnelId);
    this.credentials = new SopsSecret(`${name}-credentials`, {
      connection: args.connection, configRepo: args.configRepo, modulePath: args.secretModulePath,
      hostSha256: args.secretHostSha256, hostText: args.secretHostText, sopsFile: args.sopsFile, key: args.credentialsKey,
      value: credentials, ageKeyFile: args.ageKeyFile, owner: "root", group: "root", mode: "0400",
      restartUnits: [this.unit], valueDrift: args.credentialsDrift, stateDir: args.stateDir, lockWaitSeconds: args.lockWaitSeconds,
    }, { parent: this });
    this.module = generatedModule(this, name, args, "CloudflareTunnel", cloudflareTunnelModule(args), { dependsOn: [this.credentials] });
    this.checks = [...this.credentials.checks, { kind: "unit", unit: this.unit }];
    this.registerOutputs({ module: this.module.path, unit: this.unit, checks: this.checks });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why these args cannot make a tunnel, or undefined. */
export function tunnelProblem(args: Pick<CloudflareTunnelArgs, "tunnelId" | "origin" | "credentialsKey">): string | undefined {
  if (!UUID.test(args.tunnelId)) return `\`tunnelId\` must be the tunnel's UUID (got ${JSON.stringify(args.tunnelId)})`;
  if (!/^https?:\/\/[A-Za-z0-9.[\]:-]+$/.test(args.origin)) {
    return `\`origin\` must be http://HOST[:PORT] (got ${JSON.stringify(args.origin)}): nginx's address on the host`;
  }
  if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(args.credentialsKey)) {
    return `\`credentialsKey\` must be a sops key path like "cloudflared/credentials" (got ${JSON.stringify(args.credentialsKey)})`;
  }
  return undefined;
}

export function cloudflareTunnelModule(args: Pick<CloudflareTunnelArgs, "tunnelId" | "publicHostName" | "origin" | "credentialsKey">): NixAttrs {
  return {
    services: {
      cloudflared: {
        enable: true,
        tunnels: {
          [args.tunnelId]: {
            credentialsFile: `/run/secrets/${args.credentialsKey}`,
            // Only the public name is routed, to nginx; anything else gets Cloudflare's 404.
            ingress: { [args.publicHostName]: args.origin },
            default: "http_status:404",
          },
        },
      },
    },
  };
}
