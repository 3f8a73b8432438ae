import { isRecord, resourceLabel, typeFromUrn, TYPES } from "./resources";

/** One `fileSystems` entry of a generated module's typed body, as a resource carries it. */
export interface FileSystemEntry {
  mountPoint: string;
  /** The entry itself (the policy SDK's proxy: writes to it change the resource's props). */
  entry: Record<string, unknown>;
  /** How messages name the resource: `NixModuleFile "immich-data-mount-module"`. */
  label: string;
  /** What the resource writes, for messages: the module's path, or the script's description. */
  file: string;
  generator: unknown;
}

interface CarriedModule {
  body: Record<string, unknown>;
  generator: unknown;
  file: string;
}

/**
 * The generated module a resource carries as typed data: a NixModuleFile's `body`, or a RemoteScript's
 * `module.body`, which its provider renders and writes (so a remediation must land there to reach the host).
 */
function carriedModule(type: string, props: Record<string, any>): CarriedModule | undefined {
  if (type === TYPES.nixModuleFile && isRecord(props.body)) {
    return { body: props.body, generator: props.generator, file: String(props.path) };
  }
  const module = type === TYPES.remoteScript ? props.module : undefined;
  if (isRecord(module) && isRecord(module.body)) {
    return { body: module.body, generator: module.generator, file: String(props.description) };
  }
  return undefined;
}

/** Every `fileSystems` entry of the module `args` carries (none when it carries none). */
export function fileSystemEntries(args: { type: string; name: string; props: Record<string, any> }): FileSystemEntry[] {
  const module = carriedModule(args.type, args.props);
  const fileSystems = module?.body.fileSystems;
  if (!module || !isRecord(fileSystems)) return [];
  const label = resourceLabel(args.type, args.name);
  return Object.keys(fileSystems).flatMap((mountPoint) => {
    const entry = fileSystems[mountPoint];
    return isRecord(entry) ? [{ mountPoint, entry, label, file: module.file, generator: module.generator }] : [];
  });
}

/**
 * Whether a validation judges the module `args` carries: a NixModuleFile's always; a RemoteScript's only
 * when no NixModuleFile built it (that one reports the same entries already).
 */
export function judgesModuleOf(args: { type: string; opts: { parent?: string } }): boolean {
  if (args.type !== TYPES.remoteScript) return true;
  return !args.opts.parent || typeFromUrn(args.opts.parent) !== TYPES.nixModuleFile;
}
