import * as pulumi from "../../lib/pulumi";
import { CheckoutResource } from "../fromCheckout";
import { ConnectionArgs } from "../remoteScript/resource";

export interface ImmichLibraryArgs {
  /** SSH to SKYLAB: the provider reaches Immich through a local port forward over it. */
  connection: pulumi.Input<ConnectionArgs>;
  /** Immich's address as seen on SKYLAB. */
  apiUrl: pulumi.Input<string>;
  /** An Immich API key of an administrator. Always a Pulumi secret. */
  apiKey: pulumi.Input<string>;
  name: pulumi.Input<string>;
  /** The owner's Immich user id; with neither this nor ownerEmail, the API key's user. */
  ownerId?: pulumi.Input<string>;
  /** Must be the API key's user (the API used here cannot look up other users by email). */
  ownerEmail?: pulumi.Input<string>;
  importPaths: pulumi.Input<pulumi.Input<string>[]>;
  exclusionPatterns: pulumi.Input<pulumi.Input<string>[]>;
  scanAndWait: pulumi.Input<boolean>;
  scanTimeoutSeconds: pulumi.Input<number>;
  deleteOnDestroy: pulumi.Input<boolean>;
  rescanToken?: pulumi.Input<string>;
}


/**
 * An Immich External Library, managed through Immich's API (@immich/sdk) over an SSH local port forward:
 * created or adopted by name, updated only where it differs, validated by Immich before saving, scanned after
 * a change, optionally timed; deleted on destroy only when asked.
 */
export class ImmichLibrary extends CheckoutResource {
  declare public readonly libraryId: pulumi.Output<string>;
  declare public readonly resolvedOwnerId: pulumi.Output<string>;
  declare public readonly lastChanges: pulumi.Output<string[]>;
  declare public readonly indexing: pulumi.Output<{ seconds: number; assetsFound: number; assetsPerSecond: number; startedAt: string } | null>;

  constructor(name: string, args: ImmichLibraryArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      "immichLibrary/runtime",
      "ImmichLibrary",
      name,
      { ...args, libraryId: undefined, resolvedOwnerId: undefined, lastChanges: undefined, indexing: undefined },
      // The key and the connection (it holds the SSH key) stay encrypted in the state whatever the engine infers.
      { ...opts, additionalSecretOutputs: ["apiKey", "connection"] },
    );
  }
}
