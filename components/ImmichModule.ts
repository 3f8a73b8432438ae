import { readFileSync } from "fs";
import { join } from "path";
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
  /** The sops-nix secret holding the password alone (tcp mode: PostgreSQL's side is set from it). */
  dbPasswordSecret?: string;
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
      ...immichServiceUnits(args).map((unit): VerificationCheck => ({ kind: "unit", unit })),
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
  if (args.databaseMode === "tcp") immich.database = { host: "127.0.0.1", user: IMMICH_DB_ROLE };
  const serverUnit: NixAttrs = {
    // Immich must not start on the empty mount point before the subvolume is mounted.
    unitConfig: { RequiresMountsFor: args.mediaLocation },
    // nixpkgs' immich-server has StateDirectory=immich without a mode: systemd sets /var/lib/immich to the
    // StateDirectoryMode= (default 0755) at every start (systemd.exec(5)), undoing nixpkgs' own tmpfiles rule
    // (`e <mediaLocation> 0700`). 0700, the mode that rule and the verification ask for, holds after each start.
    serviceConfig: { StateDirectoryMode: IMMICH_STATE_DIRECTORY_MODE },
  };
  const units: NixAttrs = { "immich-server": serverUnit };
  if (args.databaseMode === "tcp") units[unitName(IMMICH_DB_PASSWORD_UNIT)] = dbPasswordUnit(args);
  const body: NixAttrs = {
    services: { immich },
    // The module creates its user only when left at "immich"; declaring it here covers both cases
    // (identical definitions merge).
    users: {
      users: { [args.user]: { isSystemUser: true, group: args.group } },
      groups: { [args.group]: {} },
    },
    systemd: { services: units },
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

/** The mode of /var/lib/immich (immich-server's StateDirectory=immich) and of the media location. */
export const IMMICH_STATE_DIRECTORY_MODE = "0700";
/** The PostgreSQL server nixpkgs' immich module runs (services.immich.database.enable, default true). */
export const POSTGRESQL_UNIT = "postgresql.service";
/** PostgreSQL's role for Immich (nixpkgs' `services.immich.database.user` default, set explicitly in tcp mode). */
export const IMMICH_DB_ROLE = "immich";
/** tcp mode: the oneshot that gives the role its password from the sops secret before Immich starts. */
export const IMMICH_DB_PASSWORD_UNIT = "immich-db-password.service";
const DB_PASSWORD_SCRIPT = readFileSync(join(__dirname, "units", "immich-db-password.sh"), "utf8");

function unitName(unit: string): string {
  return unit.replace(/\.service$/, "");
}

/**
 * immich-db-password.service: ordered after PostgreSQL (and, where they exist, nixpkgs' postgresql-setup,
 * which creates the role, and postgresql.target) and before Immich, which requires it. systemd reads the secret as root and hands it
 * over as a credential, so the unit runs as postgres without access to /run/secrets.
 */
function dbPasswordUnit(args: Pick<ImmichModuleArgs, "dbPasswordSecret">): NixAttrs {
  if (!args.dbPasswordSecret) throw new Error("ImmichModule: databaseMode \"tcp\" needs dbPasswordSecret (the sops secret of the password)");
  return {
    description: "Immich: the PostgreSQL password of role immich, from the sops secret",
    // postgresql.target and postgresql-setup.service exist in current nixpkgs (absent ones are ignored).
    after: ["postgresql.service", "postgresql-setup.service", "postgresql.target"],
    wants: ["postgresql-setup.service", "postgresql.target"],
    requires: ["postgresql.service"],
    before: [IMMICH_SERVER_UNIT],
    requiredBy: [IMMICH_SERVER_UNIT],
    path: [nixExpr("config.services.postgresql.package")],
    serviceConfig: {
      Type: "oneshot",
      RemainAfterExit: true,
      User: "postgres",
      Group: "postgres",
      LoadCredential: nixExpr(`"db_password:\${config.sops.secrets.${JSON.stringify(args.dbPasswordSecret)}.path}"`),
    },
    script: DB_PASSWORD_SCRIPT,
  };
}

/** Every unit the module runs, the database's first: what the verification and the host look check. */
export function immichServiceUnits(args: Pick<ImmichModuleArgs, "databaseMode" | "machineLearning">): string[] {
  const database = args.databaseMode === "tcp" ? [POSTGRESQL_UNIT, IMMICH_DB_PASSWORD_UNIT] : [POSTGRESQL_UNIT];
  return [...database, ...immichUnits(args.machineLearning)];
}

/** Immich's units: the server, and the machine-learning service when it is enabled. */
export function immichUnits(machineLearning: boolean): string[] {
  return machineLearning ? [IMMICH_SERVER_UNIT, IMMICH_MACHINE_LEARNING_UNIT] : [IMMICH_SERVER_UNIT];
}
