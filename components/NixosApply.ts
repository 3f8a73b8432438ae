import * as pulumi from "@pulumi/pulumi";
import { RebuildMode } from "../lib/config";
import { nixExpr, renderModule } from "../lib/nix";
import { ConnectionArgs, RemoteScript } from "../providers/RemoteScript";
import { GENERATED_MARKER, loadScript, engineInputs } from "./scripts";

const APPLY = loadScript("nixos-apply.sh");
const JOB = loadScript("nixos-apply-job.sh");
const CHECKS = loadScript("verify-checks.sh");
const CONFIRM = loadScript("nixos-apply-confirm.sh");
const REMOVE = loadScript("nixos-apply-remove.sh");

/** One verification check run on the host after activation (see components/scripts/verify-checks.sh). */
export type VerificationCheck =
  | { kind: "mount"; mountPoint: string; options: string[] }
  | { kind: "owner" | "secret"; path: string; owner: string; mode: string }
  | { kind: "readable-by"; path: string; user: string }
  | { kind: "unit"; unit: string }
  | { kind: "http"; url: string; expect: string; hostHeader?: string };

export interface NixosApplyArgs {
  connection: pulumi.Input<ConnectionArgs>;
  configRepo: pulumi.Input<string>;
  /** Folder inside configRepo that the program owns whole; its default.nix imports the modules. */
  generatedDir: string;
  /** The generated module files (paths inside configRepo, all in generatedDir). */
  moduleFiles: string[];
  /** Digests of the modules' content: a change re-applies. */
  moduleDigests: pulumi.Input<string>[];
  /** Paths inside configRepo that the program changes (committed and rolled back together). */
  ownedPaths: string[];
  /** switch: activate, verify, confirm, then make it the boot default. test: no boot default. boot: next reboot. dry-activate: plan only. */
  mode: RebuildMode;
  checks: VerificationCheck[];
  /** Seconds the host waits for the deployer's confirmation before rolling itself back. */
  confirmTimeoutSeconds: number;
  /** Seconds verification waits for units and HTTP checks to pass (default 180). */
  verifyTimeoutSeconds?: number;
  /** Seconds `nixos-rebuild test` may run before the job rolls back (default 900). */
  activationTimeoutSeconds?: number;
  stateDir?: string;
  /**
   * The data path that a migration copied onto a subvolume before this apply. The job stops `units`,
   * syncs what changed since the copy and moves the original to `keptAt`, then activates (the new system
   * mounts the subvolume at `source`). Until the host confirms the new system, a rollback puts the
   * original back where the previous system expects it and starts `units` on it again.
   */
  dataPath?: { source: string; keptAt: string; mediasLabel: string; subvolume: string; units: string[] };
  drift?: pulumi.Input<string>;
}

export interface VerificationResult {
  check: string;
  target: string;
  status: "pass" | "fail" | "not-applicable";
  detail: string;
}

/**
 * `nixos-rebuild` for the generated modules, with verification and rollback: commit, plan (dry-activate),
 * activate in a detached job, verify, confirm over a new connection, then make it the boot default. Any
 * failure returns the host to the previous system and the repo to the previous commit, checked.
 */
export class NixosApply extends pulumi.ComponentResource {
  /** The verification checks of the last successful apply. */
  public readonly report: pulumi.Output<VerificationResult[]>;
  public readonly log: pulumi.Output<string>;

  constructor(name: string, args: NixosApplyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:nixos:NixosApply", name, engineInputs(args), opts);
    for (const file of args.moduleFiles) {
      if (!file.startsWith(`${args.generatedDir}/`)) {
        throw new pulumi.ResourceError(`module ${file} is outside \`nixos.generatedDir\` (${args.generatedDir})`, this);
      }
    }
    const script = new RemoteScript(
      `${name}-rebuild`,
      {
        connection: args.connection,
        // The connection holds the private key, so anything derived from it is secret: unwrap the host name.
        description: pulumi.unsecret(pulumi.output(args.connection).apply((c) => `nixos-rebuild ${args.mode} on ${c.host}`)),
        create: APPLY,
        confirm: CONFIRM,
        delete: REMOVE,
        values: {
          REPO: args.configRepo,
          GENERATED_DIR: args.generatedDir,
          MODULE_FILES: args.moduleFiles.join("\n"),
          MODULE_DIGESTS: pulumi.all(args.moduleDigests).apply((digests) => digests.join("\n")),
          DEFAULT_MODULE: defaultModule(args.generatedDir, args.moduleFiles),
          EMPTY_MODULE: defaultModule(args.generatedDir, []),
          OWNED_PATHS: args.ownedPaths.join("\n"),
          MODE: args.mode,
          CHECKS: checkLines(args.checks),
          STATE_DIR: args.stateDir ?? "/var/lib/skylab-immich",
          CONFIRM_TIMEOUT: String(args.confirmTimeoutSeconds),
          VERIFY_TIMEOUT: String(args.verifyTimeoutSeconds ?? 180),
          ACTIVATION_TIMEOUT: String(args.activationTimeoutSeconds ?? 900),
          DATA_SOURCE: args.dataPath?.source ?? "",
          DATA_KEPT_AT: args.dataPath?.keptAt ?? "",
          DATA_LABEL: args.dataPath?.mediasLabel ?? "",
          DATA_SUBVOLUME: args.dataPath?.subvolume ?? "",
          DATA_COPY: args.dataPath ? `subvolume ${args.dataPath.subvolume} on ${args.dataPath.mediasLabel}` : "",
          DATA_UNITS: (args.dataPath?.units ?? []).join(" "),
          MARKER: GENERATED_MARKER,
          CHECKS_SCRIPT: CHECKS,
          JOB_SCRIPT: JOB,
        },
        drift: args.drift,
      },
      { parent: this },
    );
    this.log = script.stdout;
    this.report = script.stdout.apply(parseReport);
    this.registerOutputs({ report: this.report, log: this.log });
  }
}

/** default.nix of the generated folder: imports every module, by relative path literal. */
export function defaultModule(generatedDir: string, moduleFiles: string[]): string {
  const imports = moduleFiles.map((file) => {
    const base = file.slice(generatedDir.length + 1);
    if (!/^[A-Za-z0-9._-]+\.nix$/.test(base)) throw new Error(`generated module name ${JSON.stringify(base)} is not a plain file name`);
    return nixExpr(`./${base}`);
  });
  return renderModule({
    generator: "NixosApply",
    header: ["Imports the modules skylab-immich generates. Import this folder once from your configuration."],
    body: { imports },
  });
}

export function checkLines(checks: VerificationCheck[]): string {
  const line = (fields: string[]) => {
    for (const field of fields) {
      if (/[\t\n]/.test(field)) throw new Error(`verification check field ${JSON.stringify(field)} contains a tab or newline`);
    }
    return fields.join("\t");
  };
  return checks
    .map((c) => {
      switch (c.kind) {
        case "mount": return line(["mount", c.mountPoint, c.options.join(",")]);
        case "owner":
        case "secret": return line([c.kind, c.path, c.owner, c.mode]);
        case "readable-by": return line(["readable-by", c.path, c.user]);
        case "unit": return line(["unit", c.unit]);
        case "http": return line(["http", c.url, c.expect, ...(c.hostHeader ? [c.hostHeader] : [])]);
      }
    })
    .join("\n");
}

export function parseReport(stdout: string): VerificationResult[] {
  const line = stdout.split("\n").find((l) => l.startsWith("report: "));
  if (!line) return [];
  try {
    return JSON.parse(line.slice("report: ".length)) as VerificationResult[];
  } catch {
    return [];
  }
}
