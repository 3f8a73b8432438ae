import * as pulumi from "../lib/pulumi";
import { sopsSecretPath, STATE_DIR } from "../lib/constants";
import { NixAttrs, nixExpr } from "../lib/nix";
import { ConnectionArgs, RemoteScript } from "../providers/remoteScript/resource";
import { GeneratedModuleArgs, generatedModule, lockWaitValue, NixModuleFile } from "./NixModuleFile";
import { VerificationCheck } from "./verification";
import { createHash } from "crypto";
import { engineInputs } from "./inputs";
import { loadScript } from "./shell";

const SET = loadScript("sops-secret-set.sh");
const REMOVE = loadScript("sops-secret-remove.sh");

export interface SopsSecretArgs extends GeneratedModuleArgs {
  /** The sops file inside configRepo, e.g. "secrets/secrets.yaml" (the configuration's sops.defaultSopsFile). */
  sopsFile: string;
  /** Key path, e.g. "immich/db_password" (YAML immich.db_password). */
  key: string;
  /** The value, a Pulumi secret. Omitted: generated on the host once and never known to Pulumi. */
  value?: pulumi.Input<string>;
  /** Age identity on the host that can decrypt the file. */
  ageKeyFile: string;
  /** Owner of /run/secrets/<key> (sops-nix). */
  owner: string;
  group: string;
  /** Default "0400". */
  mode?: string;
  /** Units restarted when the secret changes, e.g. ["immich-server.service"]. */
  restartUnits: string[];
  /** A sops-nix template rendering `ENV=<secret>` lines, for an EnvironmentFile such as services.immich.secretsFile. */
  envTemplate?: { name: string; variable: string };
  stateDir?: string;
  /** "in-sync", or why the key is missing from the sops file (e.g. after a rollback of the repo). */
  valueDrift?: pulumi.Input<string>;
}

/** A secret in the sops-encrypted secrets file, declared for sops-nix. Its plaintext never reaches state or logs. */
export class SopsSecret extends pulumi.ComponentResource {
  public readonly module: NixModuleFile;
  public readonly path: string;
  /**
   * Changes whenever the value was (re)written into the sops file (rotation, or a repair): the apply
   * takes it among its digests, so the host decrypts the new value; it says nothing about the value.
   */
  public readonly revision: pulumi.Output<string>;
  /** What the apply verifies: the decrypted secret at its path, with its owner and mode. */
  public readonly checks: VerificationCheck[];

  constructor(name: string, args: SopsSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    // The value is left out of the component's inputs: components send their inputs to the engine.
    const { value, ...visible } = engineInputs(args);
    super("skylab:secrets:SopsSecret", name, { ...visible, valueSource: value === undefined ? "generated-on-host" : "stack-config" }, opts);
    if (value !== undefined && !pulumi.Output.isInstance(value)) {
      throw new pulumi.ResourceError(
        `the value of ${args.key} is a plain string: pass it as a Pulumi secret (config.requireSecret / pulumi.secret)`,
        this,
      );
    }
    const set = new RemoteScript(
      `${name}-value`,
      {
        connection: args.connection,
        description: `sops secret ${args.key} in ${args.sopsFile}`,
        create: SET,
        delete: REMOVE,
        values: {
          REPO: args.configRepo,
          SOPS_FILE: args.sopsFile,
          KEY_PATH: args.key,
          AGE_KEY_FILE: args.ageKeyFile,
          GENERATE: value === undefined ? "true" : "false",
          STATE_DIR: args.stateDir ?? STATE_DIR,
          ...lockWaitValue(args.lockWaitSeconds),
        },
        stdin: value === undefined ? undefined : pulumi.secret(pulumi.output(value).apply(sopsSetInput)),
        logOutput: false,
        drift: args.valueDrift,
      },
      { parent: this },
    );
    this.path = sopsSecretPath(args.key);
    this.revision = set.inputsId;
    this.module = generatedModule(this, name, args, "SopsSecret", sopsSecretModule(args), { dependsOn: [set] });
    this.checks = [{ kind: "secret", path: this.path, owner: `${args.owner}:${args.group}`, mode: args.mode ?? "0400" }];
    this.registerOutputs({ path: this.path, module: this.module.path, checks: this.checks });
  }

  /** The module's path in the config repo. */
  static modulePath(generatedDir: string): string {
    return `${generatedDir}/secrets.nix`;
  }
}

/**
 * What the value script reads on its standard input (sops-secret-set.sh): the sha256 of the value (to compare with
 * what the sops file holds, without the shell ever handling the plaintext), then the value as one JSON string, the
 * form `sops set --value-stdin` takes: JSON.stringify is the one encoder, so line breaks, tabs, quotes, backslashes
 * and any control character arrive as they are.
 */
export function sopsSetInput(value: string): string {
  return `${createHash("sha256").update(value, "utf8").digest("hex")}\n${JSON.stringify(value)}\n`;
}

export function sopsSecretModule(args: Pick<SopsSecretArgs, "key" | "owner" | "group" | "mode" | "restartUnits" | "envTemplate">): NixAttrs {
  const mode = args.mode ?? "0400";
  const sops: NixAttrs = {
    secrets: { [args.key]: { owner: args.owner, group: args.group, mode, restartUnits: args.restartUnits } },
  };
  if (args.envTemplate) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(args.envTemplate.variable)) throw new Error(`invalid variable name ${args.envTemplate.variable}`);
    if (!/^[A-Za-z0-9_/-]+$/.test(args.key)) throw new Error(`invalid sops key ${args.key}`);
    sops.templates = {
      [args.envTemplate.name]: {
        // sops-nix replaces the placeholder with the decrypted value when it renders the file.
        content: nixExpr(`"${args.envTemplate.variable}=\${config.sops.placeholder."${args.key}"}\\n"`),
        owner: args.owner,
        group: args.group,
        mode,
        restartUnits: args.restartUnits,
      },
    };
  }
  return { sops };
}
