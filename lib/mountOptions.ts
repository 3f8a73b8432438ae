/**
 * The one parser of BTRFS compression, for the stack config (`storage.compression: "zstd:3"`), the drift
 * rules (the subvolume's compression property) and the policy pack (a mount's `compress=zstd:3` option).
 */

/** A compression setting, `zstd` or `zstd:3`: the algorithm and, if given, the level (and anything after a second colon). */
export interface CompressionSetting {
  algorithm: string;
  level?: string;
  /** Parts after a second colon: none in a valid setting. */
  rest: string[];
}

export function parseCompressionSetting(value: string): CompressionSetting {
  const [algorithm, level, ...rest] = value.split(":");
  return { algorithm, ...(level === undefined ? {} : { level }), rest };
}

/** A mount option that sets compression: `compress`, `compress=zstd`, `compress-force=zstd:3`. */
export interface CompressionOption {
  option: string;
  /** "compress" or "compress-force". */
  name: string;
  /** zlib when the option has no value, as in the kernel. */
  algorithm: string;
  level?: string;
}

/** The option's compression, or undefined when the option is not a compress option. */
export function parseCompressionOption(option: string): CompressionOption | undefined {
  const match = /^(compress|compress-force)(?:=(.*))?$/.exec(option);
  if (!match) return undefined;
  if (match[2] === undefined) return { option, name: match[1], algorithm: "zlib" };
  // Everything after the first colon is the level, as the kernel reads it ("zstd:3:4" has level "3:4", which is no level).
  const { algorithm, level, rest } = parseCompressionSetting(match[2]);
  return { option, name: match[1], algorithm, ...(level === undefined ? {} : { level: [level, ...rest].join(":") }) };
}
