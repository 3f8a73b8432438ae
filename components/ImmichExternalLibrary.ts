import { posix } from "path";
import * as pulumi from "../lib/pulumi";
import { ImmichLibrary } from "../providers/immichLibrary/resource";
import { ConnectionArgs } from "../providers/remoteScript/resource";
import { engineInputs } from "./inputs";

export interface ImmichExternalLibraryArgs {
  /** SSH to SKYLAB. Immich listens on loopback there: the API is reached through an SSH local port forward. */
  connection: pulumi.Input<ConnectionArgs>;
  /** Immich's address as seen on SKYLAB. Default "http://127.0.0.1:2283". */
  apiUrl?: string;
  /** API key of an Immich administrator (libraries are admin-only). Made a Pulumi secret here in any case. */
  apiKey: pulumi.Input<string>;
  /** The library's name in Immich; a library of that name made by hand is adopted, not duplicated. */
  name: string;
  /** Owner's Immich user id. Default: the API key's user. Excludes `ownerEmail`. */
  ownerId?: string;
  /** Owner's login, which must be the API key's user. Excludes `ownerId`. */
  ownerEmail?: string;
  /** Folders as Immich sees them (never under /home: ProtectHome hides it). Default ["/media/immich"]. */
  importPaths?: string[];
  /** Globs of files Immich skips. Default ["**\/@eaDir/**", "**\/.*"]. */
  exclusionPatterns?: string[];
  /** After a change, wait for the scan and export its timing. Default true. */
  scanAndWait?: boolean;
  /** Give up waiting after this many seconds (the scan goes on). Default 3600. */
  scanTimeoutSeconds?: number;
  /** `destroy` deletes the library in Immich (albums, faces and metadata of its assets go with it). Default false. */
  deleteOnDestroy?: boolean;
  /** Any new value scans and times again without another change. */
  rescanToken?: string;
}

export const LIBRARY_DEFAULTS = {
  apiUrl: "http://127.0.0.1:2283",
  importPaths: ["/media/immich"],
  exclusionPatterns: ["**/@eaDir/**", "**/.*"],
  scanAndWait: true,
  scanTimeoutSeconds: 3600,
  deleteOnDestroy: false,
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every problem with the args, each naming the setting and the fix (empty: fine). */
export function libraryArgsProblems(args: Omit<ImmichExternalLibraryArgs, "connection" | "apiKey">): string[] {
  const problems: string[] = [];
  if (!args.name.trim()) problems.push("`library.name` must not be empty: the library's name in Immich, e.g. \"Digicam\"");
  if (args.ownerId !== undefined && args.ownerEmail !== undefined) problems.push("`library.ownerId` and `library.ownerEmail` are both set: keep one");
  if (args.ownerId !== undefined && !UUID.test(args.ownerId)) {
    problems.push(`\`library.ownerId\` must be an Immich user id, a UUID (got ${JSON.stringify(args.ownerId)}): copy it from Administration → Users`);
  }
  const importPaths = args.importPaths ?? [...LIBRARY_DEFAULTS.importPaths];
  if (!importPaths.length) problems.push("`library.importPaths` must list at least one folder, e.g. [\"/media/immich\"]");
  for (const path of importPaths) {
    if (!path.startsWith("/") || posix.normalize(path) !== path || (path.length > 1 && path.endsWith("/"))) {
      problems.push(`\`library.importPaths\` must hold absolute, normalized paths (got ${JSON.stringify(path)})`);
    }
  }
  for (const pattern of args.exclusionPatterns ?? []) {
    if (!pattern) problems.push("`library.exclusionPatterns` must not contain empty patterns");
  }
  const apiUrl = args.apiUrl ?? LIBRARY_DEFAULTS.apiUrl;
  if (!/^http:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(apiUrl)) {
    problems.push(`\`library.apiUrl\` must be http://HOST[:PORT] as seen on SKYLAB (got ${JSON.stringify(apiUrl)}), e.g. "http://127.0.0.1:2283"`);
  }
  if (args.scanTimeoutSeconds !== undefined && !(Number.isInteger(args.scanTimeoutSeconds) && args.scanTimeoutSeconds >= 10)) {
    problems.push(`\`library.scanTimeoutSeconds\` must be a whole number of seconds, at least 10 (got ${args.scanTimeoutSeconds})`);
  }
  return problems;
}

/**
 * Immich's External Library for the pictures folder, kept as declared through Immich's own API: created if
 * missing (or adopted by name), updated where it differs after Immich validated the import paths, scanned after
 * a change (optionally timed: "test indexing performance"), and deleted on destroy only when asked.
 */
export class ImmichExternalLibrary extends pulumi.ComponentResource {
  public readonly libraryId: pulumi.Output<string>;
  public readonly ownerId: pulumi.Output<string>;
  /** The last timed scan; null when none was waited for. */
  public readonly indexing: pulumi.Output<{ seconds: number; assetsFound: number; assetsPerSecond: number; startedAt: string } | null>;

  constructor(name: string, args: ImmichExternalLibraryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("skylab:apps:ImmichExternalLibrary", name, engineInputs({ ...args, apiKey: pulumi.secret(args.apiKey) }), opts);
    const problems = libraryArgsProblems(args);
    if (problems.length) throw new pulumi.ResourceError(`invalid External Library settings:\n${problems.map((p) => `  - ${p}`).join("\n")}`, this);

    const library = new ImmichLibrary(
      `${name}-library`,
      {
        connection: args.connection,
        apiUrl: args.apiUrl ?? LIBRARY_DEFAULTS.apiUrl,
        apiKey: pulumi.secret(args.apiKey),
        name: args.name,
        ownerId: args.ownerId,
        ownerEmail: args.ownerEmail,
        importPaths: args.importPaths ?? [...LIBRARY_DEFAULTS.importPaths],
        exclusionPatterns: args.exclusionPatterns ?? [...LIBRARY_DEFAULTS.exclusionPatterns],
        scanAndWait: args.scanAndWait ?? LIBRARY_DEFAULTS.scanAndWait,
        scanTimeoutSeconds: args.scanTimeoutSeconds ?? LIBRARY_DEFAULTS.scanTimeoutSeconds,
        deleteOnDestroy: args.deleteOnDestroy ?? LIBRARY_DEFAULTS.deleteOnDestroy,
        rescanToken: args.rescanToken,
      },
      { parent: this },
    );
    this.libraryId = library.libraryId;
    this.ownerId = library.resolvedOwnerId;
    this.indexing = library.indexing;
    this.registerOutputs({ libraryId: this.libraryId, ownerId: this.ownerId, indexing: this.indexing });
  }

  /** The stack outputs of the library: its id and the last scan's figures ("test indexing performance"). */
  stackOutputs(): Record<string, pulumi.Output<string | number | null>> {
    return {
      immichLibraryId: this.libraryId,
      indexingSeconds: this.indexing.apply((i) => i?.seconds ?? null),
      indexingAssetsFound: this.indexing.apply((i) => i?.assetsFound ?? null),
      indexingAssetsPerSecond: this.indexing.apply((i) => i?.assetsPerSecond ?? null),
    };
  }
}
