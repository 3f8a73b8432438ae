// What the ImmichLibrary provider decides without calling anything: its inputs and outputs, which fields
// count as changes, how Immich's library compares with what is declared, and its messages.
import type { SshConnection } from "../../lib/remote/ssh";
import { connectionChanges } from "../shared/connectionChanges";

/** What one scan took, measured from the deployer: trigger → Immich's library queue idle again. */
export interface IndexingResult {
  /** Seconds from the scan request until Immich reported the library queue idle (±0.25 s polling). */
  seconds: number;
  /** Assets in the library after the scan (Immich's library statistics `total`). */
  assetsFound: number;
  assetsPerSecond: number;
  /** When the scan was requested (ISO 8601). */
  startedAt: string;
}

/** Inputs as the provider sees them (plain values: the engine unwraps secrets for dynamic providers). */
export interface ImmichLibraryProps {
  connection: SshConnection;
  /** Immich's address as seen on the host: "http://127.0.0.1:2283". */
  apiUrl: string;
  apiKey: string;
  name: string;
  ownerId?: string;
  ownerEmail?: string;
  importPaths: string[];
  exclusionPatterns: string[];
  scanAndWait: boolean;
  scanTimeoutSeconds: number;
  deleteOnDestroy: boolean;
  /** Any change of this value scans (and measures) again, even when the library is unchanged. */
  rescanToken?: string;
}

export interface ImmichLibraryOutputs extends ImmichLibraryProps {
  libraryId: string;
  /** The Immich user who owns the library. */
  resolvedOwnerId: string;
  /** What the last create/update changed in Immich ("created", "adopted", "exclusionPatterns", ...). */
  lastChanges: string[];
  /** The last measured scan; null when none was waited for. */
  indexing: IndexingResult | null;
}

/** Fields whose change means Immich must be looked at (and possibly changed) again. */
const DESIRED_FIELDS = ["name", "ownerId", "ownerEmail", "importPaths", "exclusionPatterns", "apiUrl", "rescanToken"] as const;
/**
 * Fields that only change what the provider does later: stored by an update that calls nothing that writes
 * (a rotated API key must reach the state, or a later destroy would use the revoked one).
 */
const BEHAVIOUR_FIELDS = ["scanAndWait", "scanTimeoutSeconds", "deleteOnDestroy", "apiKey"] as const;
const CONNECTION_FIELDS = ["host", "port", "user", "hostKey"] as const;

/** Host and port of an http:// URL; Immich's API is below /api. */
export function parseApiUrl(apiUrl: string): { host: string; port: number } {
  const url = new URL(apiUrl);
  if (url.protocol !== "http:") throw new Error(`\`library.apiUrl\` must be an http:// URL as seen on SKYLAB (got ${JSON.stringify(apiUrl)})`);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port ? Number(url.port) : 80 };
}

/** The library as Immich has it, reduced to what this provider manages. */
export interface LibraryView {
  id: string;
  name: string;
  ownerId: string;
  importPaths: string[];
  exclusionPatterns: string[];
  refreshedAt: string | null;
}

const sameSet = (a: string[], b: string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** The fields of `library` that differ from what is desired (order of lists does not matter). */
export function libraryDifferences(library: LibraryView, desired: Pick<ImmichLibraryProps, "name" | "importPaths" | "exclusionPatterns">): Array<"name" | "importPaths" | "exclusionPatterns"> {
  const out: Array<"name" | "importPaths" | "exclusionPatterns"> = [];
  if (library.name !== desired.name) out.push("name");
  if (!sameSet(library.importPaths, desired.importPaths)) out.push("importPaths");
  if (!sameSet(library.exclusionPatterns, desired.exclusionPatterns)) out.push("exclusionPatterns");
  return out;
}

/**
 * The outputs with the library as Immich holds it (refresh): its name, import paths and exclusion patterns,
 * each kept as stored when Immich holds the same (a list in another order is the same set). Nothing else
 * changes; the key and the connection stay as stored.
 */
export function recordLibrary(outputs: ImmichLibraryOutputs, library: LibraryView): ImmichLibraryOutputs {
  const changed = new Set(libraryDifferences(library, outputs));
  return {
    ...outputs,
    name: changed.has("name") ? library.name : outputs.name,
    importPaths: changed.has("importPaths") ? [...library.importPaths] : outputs.importPaths,
    exclusionPatterns: changed.has("exclusionPatterns") ? [...library.exclusionPatterns] : outputs.exclusionPatterns,
  };
}

/** Why the stored state differs from the new inputs (nothing here calls Immich). */
export function inputChanges(olds: Partial<ImmichLibraryOutputs>, news: ImmichLibraryProps): string[] {
  const reasons: string[] = [];
  for (const field of [...DESIRED_FIELDS, ...BEHAVIOUR_FIELDS]) {
    if (JSON.stringify(olds[field] ?? null) !== JSON.stringify(news[field] ?? null)) reasons.push(`${field} changed`);
  }
  reasons.push(...connectionChanges(olds.connection, news.connection, CONNECTION_FIELDS));
  return reasons;
}

/** Immich's per-path validation messages as one error, with the fix for the /home trap. */
export function invalidPathsMessage(name: string, results: Array<{ importPath: string; isValid: boolean; message?: string }>): string | undefined {
  const invalid = results.filter((r) => !r.isValid);
  if (!invalid.length) return undefined;
  const lines = invalid.map((r) => {
    const hint = /^\/(home|root)(\/|$)/.test(r.importPath)
      ? " (the NixOS Immich service runs with ProtectHome=true: paths under /home are invisible to Immich; " +
        "use the read-only bind mount, `pictures.mountPoint`, e.g. /media/immich)"
      : "";
    return `  - ${r.importPath}: ${r.message ?? "invalid"}${hint}`;
  });
  return `Immich rejected the import paths of library "${name}" (\`library.importPaths\`); nothing was saved:\n${lines.join("\n")}`;
}
