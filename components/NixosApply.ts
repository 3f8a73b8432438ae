import * as pulumi from "../lib/pulumi";
import { nixExpr, renderModule } from "../lib/nix";
import { rebuildEffects, RebuildMode } from "../lib/rebuildMode";
import { ConnectionArgs, RemoteScript } from "../providers/remoteScript/resource";
import { GENERATED_MARKER, STATE_DIR } from "../lib/constants";
import { engineInputs } from "./inputs";
import { loadScript } from "./shell";
import { VerificationCheck } from "./verification";

/** The host-side apply program (start, remove, job, confirm), with the verification checks' functions. */
const APPLY_PROGRAM = loadScript("nixos-apply.sh", "verify-checks.sh");
const run = (subcommand: "start" | "remove" | "confirm") => `${APPLY_PROGRAM}\nmain ${subcommand}\n`;

export type { VerificationCheck };

export interface NixosApplyArgs {
  connection: pulumi.Input<ConnectionArgs>;
  configRepo: pulumi.Input<string>;
  /** Folder inside configRepo that the program owns whole; its default.nix imports the modules. */
  generatedDir: string;
  /** The generated module files (paths inside configRepo, all in generatedDir). */
  moduleFiles: string[];
  /** Digests of the modules' content: a change re-applies. */
  moduleDigests: pulumi.Input<string>[];
  /**
   * sha256 of each file of `moduleFiles` as this stack wrote it, in the same order: the apply commits them only
   * when the host's files are these (another deployer may have written its own since).
   */
  moduleSha256s: pulumi.Input<string>[];
  /** The stack this apply belongs to, named in the host's apply lock. */
  stack: string;
  /** Seconds to wait for another apply on the host to end (config `nixos.lockWaitSeconds`). Default 300. */
  lockWaitSeconds?: number;
  /** Paths inside configRepo that the program changes (committed and rolled back together). */
  ownedPaths: string[];
  /** What the rebuild does: see lib/rebuildMode.ts. */
  mode: RebuildMode;
  /** What to verify after activation: the components' `checks`, in order. */
  checks: pulumi.Input<VerificationCheck[]>[];
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
  /**
   * Read-only snapshots of the data subvolume: before it activates, the job snapshots `subvolume` into
   * `folder` at the top level of `mediasLabel`, named by UTC time, and keeps the newest `keep` of the
   * program's snapshots there (0: none taken, none deleted). Rollback messages name the newest with the
   * commands to restore it at `mountPoint` (stopping and starting `units`); restoring is never automatic.
   * Destroy takes none. Default: no snapshots.
   */
  snapshots?: { mediasLabel: string; subvolume: string; folder: string; keep: number; mountPoint: string; units: string[] };
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
 * failure returns the host to the previous system and the repo to the previous commit, checked, and names the
 * snapshot of the data taken before the activation (see `snapshots`) with the commands to restore it. Destroy
 * takes the same path: the modules go, and the removal is activated, verified (the mounts are gone) and
 * confirmed, or rolled back.
 */
export class NixosApply extends pulumi.ComponentResource {
  /** The verification checks of the last successful apply. */
  public readonly report: pulumi.Output<VerificationResult[]>;
  public readonly log: pulumi.Output<string>;
  /** The newest snapshot after the last successful apply, as a path at the top of MEDIAS; null: none. */
  public readonly latestSnapshot: pulumi.Output<string | null>;

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
        create: run("start"),
        confirm: run("confirm"),
        delete: run("remove"),
        values: {
          REPO: args.configRepo,
          GENERATED_DIR: args.generatedDir,
          MODULE_FILES: args.moduleFiles.join("\n"),
          MODULE_DIGESTS: pulumi.all(args.moduleDigests).apply((digests) => digests.join("\n")),
          MODULE_SHA256S: pulumi.all(args.moduleSha256s).apply((digests) => digests.join("\n")),
          STACK: args.stack,
          LOCK_WAIT: String(args.lockWaitSeconds ?? 300),
          DEFAULT_MODULE: defaultModule(args.generatedDir, args.moduleFiles),
          EMPTY_MODULE: defaultModule(args.generatedDir, []),
          OWNED_PATHS: args.ownedPaths.join("\n"),
          ...effectValues(args.mode),
          ...checkValues(args.checks),
          STATE_DIR: args.stateDir ?? STATE_DIR,
          CONFIRM_TIMEOUT: String(args.confirmTimeoutSeconds),
          VERIFY_TIMEOUT: String(args.verifyTimeoutSeconds ?? 180),
          ACTIVATION_TIMEOUT: String(args.activationTimeoutSeconds ?? 900),
          DATA_SOURCE: args.dataPath?.source ?? "",
          DATA_KEPT_AT: args.dataPath?.keptAt ?? "",
          DATA_LABEL: args.dataPath?.mediasLabel ?? "",
          DATA_SUBVOLUME: args.dataPath?.subvolume ?? "",
          DATA_COPY: args.dataPath ? `subvolume ${args.dataPath.subvolume} on ${args.dataPath.mediasLabel}` : "",
          DATA_UNITS: (args.dataPath?.units ?? []).join(" "),
          ...snapshotValues(args.snapshots),
          MARKER: GENERATED_MARKER,
        },
        drift: args.drift,
      },
      { parent: this },
    );
    this.log = script.stdout;
    this.report = script.stdout.apply(parseReport);
    this.latestSnapshot = script.stdout.apply(parseLatestSnapshot);
    this.registerOutputs({ report: this.report, log: this.log, latestSnapshot: this.latestSnapshot });
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

/** The rebuild mode's effects as the apply program reads them. */
export function effectValues(mode: RebuildMode): { ACTIVATE: string; BOOT_DEFAULT: string } {
  const effects = rebuildEffects(mode);
  return { ACTIVATE: effects.activates ? "yes" : "no", BOOT_DEFAULT: effects.bootDefault };
}

/** The components' checks, in order, as the four lists the apply program reads. */
function checkValues(checks: pulumi.Input<VerificationCheck[]>[]): Record<string, pulumi.Output<string[]>> {
  const arrays = pulumi.all(checks).apply((lists) => checkArrays(lists.flat() as VerificationCheck[]));
  return {
    CHECK_KIND: arrays.apply((a) => a.CHECK_KIND),
    CHECK_TARGET: arrays.apply((a) => a.CHECK_TARGET),
    CHECK_ARG: arrays.apply((a) => a.CHECK_ARG),
    CHECK_ARG2: arrays.apply((a) => a.CHECK_ARG2),
  };
}

/** The checks as the apply program reads them: four lists of the same length, one check per index. */
export function checkArrays(checks: VerificationCheck[]): Record<"CHECK_KIND" | "CHECK_TARGET" | "CHECK_ARG" | "CHECK_ARG2", string[]> {
  const rows = checks.map((c): [string, string, string, string] => {
    switch (c.kind) {
      case "mount": return ["mount", c.mountPoint, c.options.join(","), ""];
      case "owner":
      case "secret": return [c.kind, c.path, c.owner, c.mode];
      case "readable-by": return ["readable-by", c.path, c.user, ""];
      case "unit": return ["unit", c.unit, "", ""];
      case "http": return ["http", c.url, c.expect, c.hostHeader ?? ""];
    }
  });
  return {
    CHECK_KIND: rows.map((r) => r[0]),
    CHECK_TARGET: rows.map((r) => r[1]),
    CHECK_ARG: rows.map((r) => r[2]),
    CHECK_ARG2: rows.map((r) => r[3]),
  };
}

/** The snapshot settings as the apply program reads them; without any, no snapshots. */
export function snapshotValues(snapshots: NixosApplyArgs["snapshots"]): Record<
  "SNAPSHOT_LABEL" | "SNAPSHOT_SUBVOLUME" | "SNAPSHOT_FOLDER" | "SNAPSHOT_KEEP" | "SNAPSHOT_MOUNT_POINT", string
> & { SNAPSHOT_UNITS: string[] } {
  return {
    SNAPSHOT_LABEL: snapshots?.mediasLabel ?? "",
    SNAPSHOT_SUBVOLUME: snapshots?.subvolume ?? "",
    SNAPSHOT_FOLDER: snapshots?.folder ?? "",
    SNAPSHOT_KEEP: String(snapshots?.keep ?? 0),
    SNAPSHOT_MOUNT_POINT: snapshots?.mountPoint ?? "",
    SNAPSHOT_UNITS: snapshots?.units ?? [],
  };
}

/** The path after the last `latest-snapshot: ` line (the confirmation prints it); null for none or absent. */
export function parseLatestSnapshot(stdout: string): string | null {
  const lines = stdout.split("\n").filter((l) => l.startsWith("latest-snapshot: "));
  const path = lines.length ? lines[lines.length - 1].slice("latest-snapshot: ".length) : "none";
  return path === "none" || path === "" ? null : path;
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
