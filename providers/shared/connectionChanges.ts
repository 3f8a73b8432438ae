import type { SshConnection } from "../../lib/remote/ssh";

/**
 * Why the stored connection differs from the new one, as diff reasons ("connection.host changed"). Only the
 * fields given count: a rotated private key alone is not a change.
 */
export function connectionChanges(
  olds: Partial<SshConnection> | undefined, news: Partial<SshConnection> | undefined, fields: readonly (keyof SshConnection)[],
): string[] {
  return fields.filter((field) => (olds?.[field] ?? null) !== (news?.[field] ?? null)).map((field) => `connection.${field} changed`);
}
