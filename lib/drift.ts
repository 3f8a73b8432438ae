import { parseCompressionSetting } from "./mountOptions";
import type { ExpectedMount, HostFacts } from "./remote/hostFacts";

/** The host matches what the last `up` left (the same value the RemoteScript provider stores). */
export const IN_SYNC = "in-sync";

/** Subvolume present with the compression property of the configured algorithm. */
export function subvolumeDrift(facts: HostFacts, subvolume: string, compression: string): string {
  const found = facts.medias.subvolumes?.[subvolume];
  if (found === undefined) return IN_SYNC; // filesystem not readable: preflight reports it
  if (found === null) return `subvolume ${subvolume} is missing on ${facts.medias.label}`;
  const { algorithm } = parseCompressionSetting(compression);
  if (found.compression !== algorithm) {
    return `compression property of ${subvolume} is ${found.compression ?? "unset"}, expected ${algorithm}`;
  }
  return IN_SYNC;
}

/**
 * The data is back at its source, not migrated: a rollback of the first apply put it there (the marker
 * of the migration is gone and the source, not mounted, holds data).
 */
export function migrationDrift(facts: HostFacts, source: string, subvolume: string): string {
  const { done, sourceBytes } = facts.migration;
  if (done || sourceBytes === null || sourceBytes === 0) return IN_SYNC;
  return `the data at ${source} is not on ${subvolume} (a rollback put it back): it is copied again`;
}

/** A generated file on the host is byte-identical to what the program renders. */
export function moduleFileDrift(facts: HostFacts, path: string, expectedSha256: string): string {
  const found = facts.repo.files?.[path];
  if (found === undefined) return IN_SYNC;
  if (found === null) return `${path} was deleted on the host`;
  if (found !== expectedSha256) return `${path} was edited on the host`;
  return IN_SYNC;
}

/** The secret's key is in the sops file (a rollback of the config repo can take it away). */
export function sopsKeyDrift(facts: HostFacts, sopsFile: string, key: string): string {
  const present = facts.repo.sopsKeys?.[key];
  if (present === undefined) return IN_SYNC;
  return present ? IN_SYNC : `${key} is missing from ${sopsFile}`;
}

export type { ExpectedMount };

/**
 * Why the live mounts differ from the declared ones, in declaration order, or IN_SYNC. The host look
 * judged each with the one mount rule; a mount it did not report is not drift (it was not looked at).
 */
export function mountsDrift(facts: HostFacts, expected: ExpectedMount[]): string {
  const reasons = expected.flatMap((m) => {
    const found = facts.mounts[m.mountPoint];
    return found && !found.matches ? [found.verdict] : [];
  });
  return reasons.length ? reasons.join("; ") : IN_SYNC;
}

/**
 * The units the configuration runs that are not running (stopped or failed by hand, or crashed), or IN_SYNC:
 * `up` starts them through the verified apply. A unit the look did not report is not drift.
 */
export function unitsDrift(facts: HostFacts, units: string[]): string {
  const reasons = units.flatMap((unit) => {
    const state = facts.units?.[unit];
    return state === undefined || state === "active" ? [] : [`${unit} is ${state} (the configuration runs it)`];
  });
  return reasons.length ? reasons.join("; ") : IN_SYNC;
}

/** Several drift reasons as one: IN_SYNC when every one is. */
export function joinDrift(...reasons: string[]): string {
  const found = reasons.filter((r) => r !== IN_SYNC);
  return found.length ? found.join("; ") : IN_SYNC;
}

export interface PreflightInput {
  mediasLabel: string;
  configRepo: string;
  importPath: string;
  requiredTools: string[];
  host: string;
  /** Folders that must exist, with the stack key that names each. */
  folders?: { path: string; key: string }[];
}

/** What makes an `up` certain to fail, each with what to do. Empty when the host is ready. */
export function preflightProblems(facts: HostFacts, input: PreflightInput): string[] {
  const problems: string[] = [];
  if (!facts.medias.device) {
    problems.push(
      `no filesystem labelled ${input.mediasLabel} on ${input.host}: plug in the drive, or set \`storage.mediasLabel\` ` +
        "to the label `btrfs filesystem show` prints",
    );
  } else if (facts.medias.fstype && facts.medias.fstype !== "btrfs") {
    problems.push(`the filesystem labelled ${input.mediasLabel} (${facts.medias.device}) is ${facts.medias.fstype}, not btrfs`);
  }
  for (const tool of input.requiredTools) {
    if (!facts.tools[tool]) problems.push(`\`${tool}\` is not installed on ${input.host}: add it to environment.systemPackages`);
  }
  const sops = sopsVersion(facts.tools.sops);
  if (sops && compareVersions(sops, MINIMUM_SOPS) < 0) {
    problems.push(
      `\`sops\` on ${input.host} is ${sops.join(".")}: skylab-immich needs ${MINIMUM_SOPS.join(".")} or later (\`sops set --value-stdin\` keeps ` +
        "secrets out of command lines): update the host's nixpkgs, or put a newer sops in environment.systemPackages",
    );
  }
  if (!facts.repo.isGit) {
    problems.push(`${input.configRepo} on ${input.host} is not a git repository: set \`nixos.configRepo\` to your NixOS configuration checkout`);
  } else if (facts.repo.importsGenerated === false) {
    problems.push(
      `${input.configRepo} does not import the generated modules: add \`./${input.importPath}\` to the \`imports\` ` +
        "of configuration.nix (or your flake's module list), commit it, and run again",
    );
  }
  if (facts.repo.foreignChanges?.length) {
    problems.push(
      `${input.configRepo} has uncommitted changes outside the files skylab-immich owns:\n` +
        facts.repo.foreignChanges.map((line) => `      ${line}`).join("\n") +
        "\n    commit or stash them first (an apply commits, and a rollback returns the repo to its previous commit: it must not take your work with it)",
    );
  }
  for (const folder of input.folders ?? []) {
    if (facts.folders?.[folder.path] === false) {
      problems.push(`\`${folder.key}\` is ${JSON.stringify(folder.path)}, which is not a folder on ${input.host}: set it to the folder to show (e.g. the plan's /home/zipang/Pictures/Digicam)`);
    }
  }
  const { sourceBytes } = facts.migration;
  const free = facts.medias.freeBytes;
  if (!facts.migration.done && sourceBytes !== null && free !== undefined && sourceBytes > free) {
    problems.push(`not enough space on ${input.mediasLabel} for the migration: ${sourceBytes} bytes to copy, ${free} free`);
  }
  return problems;
}

/** The oldest sops the host scripts work with: `sops set --value-stdin` came in 3.11. */
export const MINIMUM_SOPS = [3, 11, 0];

/** The version `sops --version` printed ("sops 3.13.2 (latest)"), or undefined when there is none. */
export function sopsVersion(printed: string | null | undefined): number[] | undefined {
  const found = /\bsops (\d+)\.(\d+)\.(\d+)/.exec(printed ?? "");
  return found ? found.slice(1, 4).map(Number) : undefined;
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  }
  return 0;
}
