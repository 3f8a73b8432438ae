/** Type tokens of the resources the program registers, as policies see them. */
export const TYPES = {
  fileSystemMount: "skylab:storage:FileSystemMount",
  bindMount: "skylab:storage:BindMount",
  btrfsSubvolume: "skylab:storage:BtrfsSubvolume",
  nixModuleFile: "skylab:nixos:NixModuleFile",
  immichModule: "skylab:apps:ImmichModule",
  nginxVhost: "skylab:web:NginxVhost",
  cloudflareTunnel: "skylab:web:CloudflareTunnel",
  sopsSecret: "skylab:secrets:SopsSecret",
  remoteScript: "pulumi-nodejs:dynamic/skylab:RemoteScript",
} as const;

/** The short name of a type token, for messages: "skylab:storage:FileSystemMount" → "FileSystemMount". */
export function shortType(type: string): string {
  return type.slice(type.lastIndexOf(":") + 1);
}

/** `FileSystemMount "immich-data-mount"`: how messages name a resource. */
export function resourceLabel(type: string, name: string): string {
  return `${shortType(type)} "${name}"`;
}

/** The resource name at the end of a URN. */
export function nameFromUrn(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

/** The type of a URN's resource, without the parent types in front of it. */
export function typeFromUrn(urn: string): string {
  const qualified = urn.split("::")[2] ?? "";
  return qualified.slice(qualified.lastIndexOf("$") + 1);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A list of strings, or undefined when `value` is anything else. */
export function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const items = Array.from(value as unknown[]);
  return items.every((item) => typeof item === "string") ? (items as string[]) : undefined;
}
