import * as pulumi from "../lib/pulumi";
import { IMMICH_MACHINE_LEARNING_UNIT, IMMICH_SERVER_UNIT } from "../lib/constants";
import { NixAttrs, nixExpr } from "../lib/nix";
import { GeneratedModuleArgs, generatedModule, NixModuleFile } from "./NixModuleFile";
import { engineInputs } from "./inputs";
import { VerificationCheck } from "./verification";

export interface ImmichModuleArgs extends GeneratedModuleArgs {
  /** Address Immich listens on. Default "127.0.0.1": the nginx upstream must use the same (nixpkgs #387934). */
  host: string;
  port: number;
  /** Default "/var/lib/immich" (the mounted subvolume). */
  mediaLocation: string;
  user: string;
  group: string;
  machineLearning: boolean;
  /** "socket" (peer login, the module default: no password used) or "tcp" (password from secretsFile). */
  databaseMode: "socket" | "tcp";
  /** Name of the sops-nix template holding `DB_PASSWORD=...` (see SopsSecret); omitted: no secretsFile. */
  secretsTemplate?: string;
  publicProxy: { enabled: boolean; port: number };
}

/** services.immich (and optionally services.immich-public-proxy), its user and group. */
export class ImmichModule extends pulumi.ComponentResource {
  public readonly module: NixModuleFile;
  /** What the apply verifies: Immich's units run and the server answers its ping where it listens. */
  public readonly checks: VerificationCheck[];
  /** The units that run on the data in `mediaLocation` (stopped while it moves). */
  public readonly dataUnits: string[];

  /** The module's path in the config repo. */
  static modulePath(generatedDir: string): string {
    return `${generatedDir}/immich.nix`;
  }

  constructor(name: string, args: ImmichModuleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:apps:ImmichModule", name, engineInputs(args), opts);
    this.module = generatedModule(this, name, args, "ImmichModule", immichModule(args));
    this.dataUnits = immichUnits(args.machineLearning);
    const address = args.host.includes(":") ? `[${args.host}]` : args.host;
    this.checks = [
      ...this.dataUnits.map((unit): VerificationCheck => ({ kind: "unit", unit })),
      { kind: "http", url: `http://${address}:${args.port}/api/server/ping`, expect: "pong" },
    ];
    this.registerOutputs({ module: this.module.path, checks: this.checks });
  }
}

export function immichModule(args: Omit<ImmichModuleArgs, "connection" | "configRepo" | "modulePath" | "drift">): NixAttrs {
  const immich: NixAttrs = {
    enable: true,
    host: args.host,
    port: args.port,
    mediaLocation: args.mediaLocation,
    user: args.user,
    group: args.group,
    "machine-learning": { enable: args.machineLearning },
  };
  if (args.secretsTemplate) immich.secretsFile = nixExpr(`config.sops.templates.${JSON.stringify(args.secretsTemplate)}.path`);
  if (args.databaseMode === "tcp") immich.database = { host: "127.0.0.1" };
  const body: NixAttrs = {
    services: { immich },
    // The module creates its user only when left at "immich"; declaring it here covers both cases
    // (identical definitions merge).
    users: {
      users: { [args.user]: { isSystemUser: true, group: args.group } },
      groups: { [args.group]: {} },
    },
    // Immich must not start on the empty mount point before the subvolume is mounted.
    systemd: {
      services: { "immich-server": { unitConfig: { RequiresMountsFor: args.mediaLocation } } },
    },
  };
  if (args.publicProxy.enabled) {
    (body.services as NixAttrs)["immich-public-proxy"] = {
      enable: true,
      immichUrl: `http://${args.host}:${args.port}`,
      port: args.publicProxy.port,
    };
  }
  return body;
}

/** Immich's units: the server, and the machine-learning service when it is enabled. */
export function immichUnits(machineLearning: boolean): string[] {
  return machineLearning ? [IMMICH_SERVER_UNIT, IMMICH_MACHINE_LEARNING_UNIT] : [IMMICH_SERVER_UNIT];
}
