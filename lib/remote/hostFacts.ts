import { readFileSync } from "fs";
import { join } from "path";
import type { OwnerFacts } from "../ownerDefinitions";
import { loadShellScript } from "./scripts";
import { REQUIRED_TOOLS } from "../constants";
import { scriptWithArgs } from "./shell";
import { describeSshFailure, runRemoteScript, SSH_FAILURE_EXIT_CODE, SshConnection } from "./ssh";
import { clearControlPath, closeOnExit, masterPid, sharedControlPath } from "./sshMaster";

const LOOK = loadShellScript(__dirname, "host-facts.sh");
/** The Nix expression that asks NixOS for the owner's definitions (run by the look on the host). */
const OWNER_NIX = readFileSync(join(__dirname, "owner-definitions.nix"), "utf8");

/** A mount as declared: where, and its options as the fileSystems entry lists them. */
export interface ExpectedMount {
  mountPoint: string;
  options: string[];
}

/**
 * What is mounted at a declared mount point (source null: nothing), with the verdict of the one mount
 * rule (check_mount in lib/remote/lib.sh, which the apply's repair and verification use too).
 */
export interface MountFact {
  source: string | null;
  fstype?: string;
  options?: string;
  fsroot?: string;
  /** The live mount satisfies the declared options. */
  matches: boolean;
  /** What is mounted (matches) or why it does not match, in a sentence. */
  verdict: string;
}

/** What one read-only look at the host found (lib/remote/host-facts.sh). */
export interface HostFacts {
  medias: {
    label: string;
    device: string | null;
    fstype?: string | null;
    freeBytes?: number;
    /** Subvolume name → its compression property (null: property unset); null when absent. */
    subvolumes?: Record<string, { compression: string | null } | null>;
  };
  mounts: Record<string, MountFact>;
  repo: {
    isGit: boolean;
    head?: string | null;
    importsGenerated?: boolean;
    /** `git status --porcelain` lines of uncommitted changes outside the owned paths. */
    foreignChanges?: string[];
    /** Owned file → sha256, or null when absent. */
    files?: Record<string, string | null>;
    /** Owned file → its text, for the small ones (a preview shows the lines `up` puts back). */
    fileTexts?: Record<string, string>;
    /** sops key path → present in the sops file (decrypted to /dev/null on the host, never sent). */
    sopsKeys?: Record<string, boolean>;
  };
  system: { current: string | null; profile: string | null };
  migration: { done: boolean; sourceBytes: number | null };
  /** Each requested unit's `systemctl is-active` state (absent where the host has no systemd). */
  units?: Record<string, string>;
  /** Each requested folder (the Pictures folder): present as a folder. */
  folders?: Record<string, boolean>;
  tools: Record<string, string | null>;
  /** The owner's own definitions of the options the program defines (lib/ownerDefinitions.ts). */
  owner?: OwnerFacts;
}

export interface LookRequest {
  mediasLabel: string;
  subvolumes: string[];
  /** The mounts the program declares: the look judges each with the one mount rule. */
  mounts: ExpectedMount[];
  configRepo: string;
  /** Files the program owns, relative to configRepo. */
  files: string[];
  /** The generated folder the host configuration must import. */
  importPath: string;
  migrationSource: string;
  /** Units the configuration runs: the look reports whether each is running. */
  units?: string[];
  /** Folders that must exist on the host, with the stack key that names each (the Pictures folder). */
  folders?: { path: string; key: string }[];
  stateDir: string;
  sopsFile: string;
  sopsKeys: string[];
  ageKeyFile: string;
  /** Paths inside configRepo the program changes (its generated folder, the sops file). */
  ownedPaths: string[];
  /** Leaf option paths the program defines: the look reports the owner's own definitions of them. */
  ownerPaths?: string[][];
}

/**
 * One SSH connection, one script, one JSON document: the whole look at a host. The connection stays open
 * as the run's master (lib/sshMaster.ts): every later step of this run goes through it, and it is closed
 * when this process ends. The host key is checked when it opens, before the look runs.
 */
export async function lookAtHost(conn: SshConnection, request: LookRequest): Promise<HostFacts> {
  const script = scriptWithArgs(LOOK, {
    MEDIAS_LABEL: request.mediasLabel,
    SUBVOLUMES: request.subvolumes.join("\n"),
    MOUNT_POINTS: request.mounts.map((m) => m.mountPoint),
    MOUNT_OPTIONS: request.mounts.map((m) => m.options.join(",")),
    REPO: request.configRepo,
    FILES: request.files.join("\n"),
    IMPORT_PATH: request.importPath,
    MIGRATION_SOURCE: request.migrationSource,
    FOLDERS: (request.folders ?? []).map((f) => f.path),
    UNITS: request.units ?? [],
    STATE_DIR: request.stateDir,
    SOPS_FILE: request.sopsFile,
    SOPS_KEYS: request.sopsKeys.join("\n"),
    AGE_KEY_FILE: request.ageKeyFile,
    OWNED_PATHS: request.ownedPaths.join("\n"),
    TOOLS: [...REQUIRED_TOOLS],
    OWNER_NIX: OWNER_NIX,
    OWNER_REQUEST: request.ownerPaths?.length
      ? JSON.stringify({ generatedDir: request.importPath, paths: request.ownerPaths })
      : "",
  });
  const controlPath = sharedControlPath(conn);
  if (controlPath) clearControlPath(conn, controlPath);
  const result = await runRemoteScript(conn, script, { timeoutMs: 60_000, controlPath, master: true });
  // Registered whatever the look's outcome: a master that opened must be closed, a failed look included.
  if (controlPath) closeOnExit(conn, controlPath, masterPid(conn, controlPath));
  if (result.code === SSH_FAILURE_EXIT_CODE && !result.stdout) {
    throw new Error(describeSshFailure(conn, result.stderr));
  }
  if (result.code !== 0) {
    throw new Error(`the look at ${conn.host} failed (exit ${result.code}): ${result.stderr.trim().split("\n").slice(-5).join("\n")}`);
  }
  try {
    return JSON.parse(result.stdout) as HostFacts;
  } catch (err) {
    throw new Error(`the look at ${conn.host} returned no valid JSON: ${(err as Error).message}\n${result.stdout.slice(0, 400)}`);
  }
}
