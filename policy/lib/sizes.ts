const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes in an nginx size ("50000M", "10m", "1g", "512k", "1048576"), or undefined when it is not one. */
export function parseNginxSize(size: string): number | undefined {
  const match = /^(\d+)([kKmMgG]?)$/.exec(size.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2].toLowerCase()];
}
