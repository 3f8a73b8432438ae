// The owner's own definitions of what the program defines, judged before anything is written. The host look
// asks NixOS itself (lib/remote/owner-definitions.nix: options.<option>.definitionsWithLocations on the host's
// evaluation, the program's generated folder left out); this file decides, purely, what each one means:
//   - the same value as the program's: adopted (the program's becomes a lib.mkDefault, lib/nix.ts), the owner's
//     file is not touched;
//   - a list the owner extends on purpose (tmpfiles rules, unit dependencies, extra groups): NixOS concatenates,
//     nothing to do;
//   - anything else: a conflict, refused with the file, the option, both values and the fix.
import { isDeepStrictEqual } from "util";
import { NIX_EXPR_KEY, NixJson, NixJsonAttrs, nixAttrPath, nixToJson, NixAttrs } from "./nix";

/** What the look's Nix answered for one leaf path (lib/remote/owner-definitions.nix). */
export interface OwnerAnswer {
  path: string[];
  /** The host's nixpkgs declares no option there. */
  missing?: boolean;
  /** The option the path lies in. */
  option?: string[];
  /** The definitions from files outside the generated folder that reach the path. */
  definitions?: { file: string; value: NixJson }[];
}

/** What the look found of the owner's definitions: the answers, or why there are none. */
export interface OwnerFacts {
  nixpkgs?: string;
  /** The copy of the config repo the look evaluated (its files are named relative to it). */
  evaluatedCopy?: string;
  options?: OwnerAnswer[];
  skipped?: string;
  error?: string;
}

/** A generated module as the program will write it: its file (relative to the config repo) and body. */
export interface PlannedModule {
  file: string;
  body: NixAttrs;
}

export interface Adoption {
  path: string[];
  file: string;
  value: NixJson;
}

export interface Conflict {
  path: string[];
  /** The owner's file, relative to the config repo. */
  file: string;
  owner: NixJson;
  ours: NixJson;
  /** The generated module that defines it. */
  module: string;
}

export interface Judgement {
  /** Generated module file → the leaf paths it adopts. */
  adopted: Record<string, string[][]>;
  adoptions: Adoption[];
  conflicts: Conflict[];
  /** Options the host's nixpkgs does not declare. */
  missing: string[];
}

/**
 * Options whose definitions NixOS merges by concatenation on purpose: an owner's own elements there are theirs
 * and do not conflict with the program's ("*" matches one name).
 */
const ADDITIVE: string[][] = [
  ["systemd", "tmpfiles", "rules"],
  ["users", "users", "*", "extraGroups"],
  ...["after", "before", "wants", "requires", "wantedBy", "requiredBy", "path"].map((k) => ["systemd", "services", "*", k]),
  ["sops", "secrets", "*", "restartUnits"],
  ["sops", "templates", "*", "restartUnits"],
];

/** Stack keys that set a leaf (the fix for a conflict: give the program the owner's value). */
const STACK_KEYS: { path: string[]; key: string }[] = [
  { path: ["services", "immich", "port"], key: "immich.port" },
  { path: ["services", "immich", "host"], key: "immich.host" },
  { path: ["services", "immich", "user"], key: "immich.user" },
  { path: ["services", "immich", "group"], key: "immich.group" },
  { path: ["services", "immich", "mediaLocation"], key: "storage.mountPoint" },
  { path: ["services", "immich", "machine-learning", "enable"], key: "immich.machineLearning" },
];

function matches(pattern: string[], path: string[]): boolean {
  return pattern.length === path.length && pattern.every((p, i) => p === "*" || p === path[i]);
}

/** Every leaf of a body (a value that is not a plain attrset with attributes), with its path. */
export function leafPaths(body: NixJsonAttrs, prefix: string[] = []): { path: string[]; value: NixJson }[] {
  const leaves: { path: string[]; value: NixJson }[] = [];
  for (const [key, value] of Object.entries(body)) {
    const path = [...prefix, key];
    const attrs = value !== null && typeof value === "object" && !Array.isArray(value) && !(NIX_EXPR_KEY in value);
    if (attrs && Object.keys(value).length > 0) leaves.push(...leafPaths(value as NixJsonAttrs, path));
    else leaves.push({ path, value });
  }
  return leaves;
}

/** The leaf paths the look asks about: every leaf of every planned module. */
export function ownerRequestPaths(modules: PlannedModule[]): string[][] {
  return modules.flatMap((m) => leafPaths(nixToJson(m.body)).map((l) => l.path));
}

function relative(file: string, repo: string): string {
  return file.startsWith(`${repo}/`) ? file.slice(repo.length + 1) : file;
}

/** Decides, leaf by leaf, what each of the owner's definitions means (see the top of this file). */
export function judgeOwnerDefinitions(modules: PlannedModule[], owner: OwnerFacts, repo: string): Judgement {
  repo = owner.evaluatedCopy ?? repo;
  const judgement: Judgement = { adopted: {}, adoptions: [], conflicts: [], missing: [] };
  const answers = new Map((owner.options ?? []).map((a) => [JSON.stringify(a.path), a]));
  for (const module of modules) {
    for (const leaf of leafPaths(nixToJson(module.body))) {
      const answer = answers.get(JSON.stringify(leaf.path));
      if (!answer) continue;
      if (answer.missing) {
        judgement.missing.push(nixAttrPath(leaf.path));
        continue;
      }
      const definitions = answer.definitions ?? [];
      if (!definitions.length || ADDITIVE.some((p) => matches(p, leaf.path))) continue;
      const differing = definitions.filter((d) => !isDeepStrictEqual(d.value, leaf.value) || NIX_EXPR_KEY in Object(leaf.value));
      for (const d of differing) {
        judgement.conflicts.push({ path: leaf.path, file: relative(d.file, repo), owner: d.value, ours: leaf.value, module: module.file });
      }
      if (!differing.length) {
        (judgement.adopted[module.file] ??= []).push(leaf.path);
        for (const d of definitions) judgement.adoptions.push({ path: leaf.path, file: relative(d.file, repo), value: d.value });
      }
    }
  }
  return judgement;
}

function shown(value: NixJson): string {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    if (NIX_EXPR_KEY in value) return `the expression ${String((value as Record<string, unknown>)[NIX_EXPR_KEY])}`;
    if ("$nonData" in value) return `a ${String((value as Record<string, unknown>)["$nonData"])} (not a plain value: it cannot be compared)`;
  }
  return JSON.stringify(value);
}

/** One conflict as a sentence with its fix. */
export function conflictMessage(c: Conflict): string {
  const option = nixAttrPath(c.path);
  const key = STACK_KEYS.find((k) => matches(k.path, c.path))?.key;
  const plain = c.owner === null || ["string", "number", "boolean"].includes(typeof c.owner);
  const fix = key && plain
    ? `set the stack key \`${key}\` to ${JSON.stringify(c.owner)} (pulumi config set --path ${key} ${JSON.stringify(String(c.owner))}), ` +
      `or delete the definition of ${option} from ${c.file}`
    : `delete the definition of ${option} from ${c.file} (skylab-immich defines it in ${c.module})`;
  return `${option}: ${c.file} sets ${shown(c.owner)}, skylab-immich sets ${shown(c.ours)}. Fix: ${fix}.`;
}
