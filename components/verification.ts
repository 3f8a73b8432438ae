/**
 * What the apply verifies on the host after activation. Each component declares the checks of what it
 * converges (its `checks` output); NixosApply runs them all (components/shell/verify-checks.sh) and
 * rolls back when one fails.
 */
export type VerificationCheck =
  | { kind: "mount"; mountPoint: string; options: string[] }
  | { kind: "owner" | "secret"; path: string; owner: string; mode: string }
  | { kind: "readable-by"; path: string; user: string }
  | { kind: "unit"; unit: string }
  | { kind: "http"; url: string; expect: string; hostHeader?: string };

/** The options a generated module's body gives the fileSystems entry at `mountPoint` (after any remediation). */
export function declaredOptions(body: unknown, mountPoint: string, fallback: string[]): string[] {
  const entry = (body as { fileSystems?: Record<string, { options?: unknown }> } | undefined)?.fileSystems?.[mountPoint];
  const options = entry?.options;
  return Array.isArray(options) && options.every((o) => typeof o === "string") ? options : fallback;
}
