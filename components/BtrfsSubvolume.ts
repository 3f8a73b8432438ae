import * as pulumi from "../lib/pulumi";
import { ConnectionArgs, RemoteScript } from "../providers/remoteScript/resource";
import { engineInputs } from "./inputs";
import { loadScript } from "./shell";

const CREATE = loadScript("btrfs-subvolume.sh");
const DELETE = loadScript("btrfs-subvolume-delete.sh");

export interface BtrfsSubvolumeArgs {
  connection: pulumi.Input<ConnectionArgs>;
  /** Label of the BTRFS filesystem (`btrfs filesystem show`), e.g. "MEDIAS". */
  mediasLabel: pulumi.Input<string>;
  /** Subvolume name at the top level of the filesystem, e.g. "@immich". No slashes. */
  subvolume: pulumi.Input<string>;
  /** Algorithm for the subvolume's `compression` property ("zstd", "zstd:3": the level is a mount option only). */
  compression: pulumi.Input<string>;
  /** Default false: `pulumi destroy` keeps the subvolume and its data. True deletes both. */
  allowDataLoss: pulumi.Input<boolean>;
  /**
   * Folder at the top level holding the subvolume's snapshots (NixosApply takes them). Destroy keeps them
   * unless `allowDataLoss`, which deletes the program's snapshots there (and the folder, when empty).
   */
  snapshotsFolder?: pulumi.Input<string>;
  /** "in-sync", or why the subvolume on the host differs (missing, compression property cleared). */
  drift?: pulumi.Input<string>;
}

/** A BTRFS subvolume with its compression property: the storage Immich's data lives on. */
export class BtrfsSubvolume extends pulumi.ComponentResource {
  public readonly subvolume: pulumi.Output<string>;
  public readonly report: pulumi.Output<string>;

  constructor(name: string, args: BtrfsSubvolumeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:storage:BtrfsSubvolume", name, engineInputs(args), opts);
    const values = {
      MEDIAS_LABEL: args.mediasLabel,
      SUBVOLUME: args.subvolume,
      COMPRESSION: args.compression,
      ALLOW_DATA_LOSS: pulumi.output(args.allowDataLoss).apply((allow) => (allow ? "true" : "false")),
      SNAPSHOTS_FOLDER: args.snapshotsFolder ?? "",
    };
    const script = new RemoteScript(
      `${name}-subvolume`,
      {
        connection: args.connection,
        description: pulumi.interpolate`btrfs subvolume ${args.subvolume} on ${args.mediasLabel}`,
        create: CREATE,
        delete: DELETE,
        values,
        drift: args.drift,
      },
      // The delete script keeps the data unless `allowDataLoss` is set.
      { parent: this },
    );
    this.subvolume = pulumi.output(args.subvolume);
    this.report = script.stdout;
    this.registerOutputs({ subvolume: this.subvolume, report: this.report });
  }
}
