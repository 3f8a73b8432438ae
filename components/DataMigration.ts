import * as pulumi from "../lib/pulumi";
import { ConnectionArgs, RemoteScript } from "../providers/remoteScript/resource";
import { STATE_DIR } from "../lib/constants";
import { engineInputs } from "./inputs";
import { loadScript } from "./shell";

const MIGRATE = loadScript("migrate-data.sh");
const RESTORE = loadScript("migrate-data-restore.sh");

export interface DataMigrationArgs {
  connection: pulumi.Input<ConnectionArgs>;
  mediasLabel: pulumi.Input<string>;
  /** Destination subvolume (must exist: depend on its BtrfsSubvolume). */
  subvolume: pulumi.Input<string>;
  /** The directory whose data moves, e.g. "/var/lib/immich". It becomes the empty mount point. */
  source: pulumi.Input<string>;
  /** Where the original data is kept after the verified copy. Never deleted by the program. */
  keepAt: pulumi.Input<string>;
  /** systemd units stopped during the copy and started again after it, also when it fails. */
  units: pulumi.Input<string[]>;
  /** Host folder for the program's own markers. Default "/var/lib/skylab-immich". */
  stateDir?: pulumi.Input<string>;
  /** Why the host no longer matches (from the host look), or IN_SYNC: a non-empty reason migrates again. */
  drift?: pulumi.Input<string>;
}

/**
 * Copies existing data onto the subvolume and verifies it byte for byte; the original stays in place
 * until the apply (NixosApply's `dataPath`) moves it aside under its rollback. Resumable: a run killed
 * halfway is completed by the next `pulumi up`. On destroy the original comes back.
 */
export class DataMigration extends pulumi.ComponentResource {
  public readonly report: pulumi.Output<string>;

  constructor(name: string, args: DataMigrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:storage:DataMigration", name, engineInputs(args), opts);
    const script = new RemoteScript(
      `${name}-migration`,
      {
        connection: args.connection,
        description: pulumi.interpolate`migration of ${args.source} to ${args.subvolume}`,
        create: MIGRATE,
        delete: RESTORE,
        values: {
          MEDIAS_LABEL: args.mediasLabel,
          SUBVOLUME: args.subvolume,
          SOURCE: args.source,
          KEEP_AT: args.keepAt,
          STATE_DIR: args.stateDir ?? STATE_DIR,
          UNITS: pulumi.output(args.units).apply((units) => units.join(" ")),
        },
        drift: args.drift,
      },
      { parent: this },
    );
    this.report = script.stdout;
    this.registerOutputs({ report: this.report });
  }
}
