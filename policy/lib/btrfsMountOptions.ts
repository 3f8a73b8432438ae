/**
 * What makes a BTRFS mount option list compliant (compress=zstd, noatime, nothing that undoes them), as pure
 * functions shared by the validation and the remediation of skylab-storage-enforce-btrfs-mount-options.
 */

import { CompressionOption, parseCompressionOption } from "../../lib/mountOptions";

export interface ZstdLevels {
  minimum: number;
  maximum: number;
}

/** The levels the kernel accepts for zstd (btrfs(5)); zstd:0 is not a level, it means the default. */
export const DEFAULT_ZSTD_LEVELS: ZstdLevels = { minimum: 1, maximum: 15 };

/** What the stack config key is for each kind of fix, when the mount comes from the program's data mount. */
export interface FixHints {
  compression?: string;
  mountOptions?: string;
}

/** Options that defeat the policy however they are combined with the others. */
const DEFEATING: Record<string, string> = {
  nodatacow: "disables copy-on-write, and with it compression and checksums, for new files",
  // The kernel does not compress files without data checksums (btrfs_inode_can_compress), and the
  // checksums are what lets `btrfs scrub` find a damaged photo.
  nodatasum: "disables data checksums, and with them compression, for new files",
  atime: "turns access-time updates back on",
  strictatime: "turns access-time updates back on for every read",
  relatime: "turns access-time updates back on",
};

type Compression = CompressionOption;
const parseCompression = parseCompressionOption;

function levelProblem(compression: Compression, levels: ZstdLevels): boolean {
  if (compression.level === undefined) return false;
  if (!/^-?\d+$/.test(compression.level)) return true;
  const level = Number(compression.level);
  return level < levels.minimum || level > levels.maximum;
}

/**
 * The problems of one BTRFS mount's options, each a sentence fragment that follows the mount's name and
 * says the fix: `lacks "noatime": add "noatime" to its options`.
 */
export function btrfsOptionProblems(options: readonly string[], levels: ZstdLevels = DEFAULT_ZSTD_LEVELS, hints: FixHints = {}): string[] {
  const problems: string[] = [];
  const compressionHint = hints.compression ? ` (${hints.compression})` : "";
  const optionsHint = hints.mountOptions ? ` (${hints.mountOptions})` : "";
  const range = `${levels.minimum} to ${levels.maximum}`;
  const compressions = options.map(parseCompression).filter((c): c is Compression => c !== undefined);
  if (compressions.length === 0) {
    problems.push(`has no compress option: add "compress=zstd" to its options${compressionHint}`);
  }
  for (const compression of compressions) {
    if (compression.algorithm === "no") {
      problems.push(`has "${compression.option}", which turns compression off: replace it with "compress=zstd"${compressionHint}`);
    } else if (compression.algorithm !== "zstd") {
      problems.push(`has "${compression.option}", which compresses with ${compression.algorithm} instead of zstd: replace it with "${compression.name}=zstd"${compressionHint}`);
    } else if (levelProblem(compression, levels)) {
      problems.push(
        `has "${compression.option}", outside the allowed zstd levels ${range}: use "${compression.name}=zstd:N" with N from ${range}, or "${compression.name}=zstd" for the default level${compressionHint}`,
      );
    }
  }
  if (!options.includes("noatime")) {
    problems.push(`lacks "noatime": add "noatime" to its options${optionsHint}`);
  }
  for (const option of options) {
    const why = DEFEATING[option];
    if (why) problems.push(`has "${option}", which ${why}: remove it${optionsHint}`);
  }
  return problems;
}

/**
 * The options with the mechanical fixes applied: a non-zstd compression becomes zstd (keeping
 * compress-force), a zstd level is clamped into range, access-time options give way to "noatime", and a
 * missing compress option is added after `subvol=`. nodatacow and nodatasum are left for a person to
 * remove: someone set them on purpose, and dropping them changes how existing files are written.
 */
export function remediateBtrfsOptions(options: readonly string[], levels: ZstdLevels = DEFAULT_ZSTD_LEVELS): string[] {
  const result: string[] = [];
  let hasCompression = false;
  for (const option of options) {
    const compression = parseCompression(option);
    if (compression) {
      hasCompression = true;
      if (compression.algorithm !== "zstd") {
        result.push(`${compression.name}=zstd`);
      } else if (levelProblem(compression, levels)) {
        const level = Number(compression.level);
        result.push(Number.isInteger(level) ? `${compression.name}=zstd:${Math.min(Math.max(level, levels.minimum), levels.maximum)}` : `${compression.name}=zstd`);
      } else {
        result.push(option);
      }
    } else if (option === "atime" || option === "strictatime" || option === "relatime") {
      continue;
    } else {
      result.push(option);
    }
  }
  if (!hasCompression) {
    const subvol = result.findIndex((option) => option.startsWith("subvol=") || option.startsWith("subvolid="));
    result.splice(subvol + 1, 0, "compress=zstd");
  }
  if (!result.includes("noatime")) result.push("noatime");
  return result;
}

/** The zstd levels from the policy's config, falling back to the defaults for what is not set. */
export function zstdLevelsFrom(config: { minimumZstdLevel?: number; maximumZstdLevel?: number }): ZstdLevels {
  return {
    minimum: config.minimumZstdLevel ?? DEFAULT_ZSTD_LEVELS.minimum,
    maximum: config.maximumZstdLevel ?? DEFAULT_ZSTD_LEVELS.maximum,
  };
}
