// Composition root: read and validate the stack config, look at the host once, build the components,
// export what `up` verified. Everything that touches SKYLAB lives in components/.
import * as pulumi from "@pulumi/pulumi";
import { BindMount } from "./components/BindMount";
import { BtrfsSubvolume } from "./components/BtrfsSubvolume";
import { DataMigration } from "./components/DataMigration";
import { FileSystemMount } from "./components/FileSystemMount";
import { ImmichExternalLibrary } from "./components/ImmichExternalLibrary";
import { ImmichModule } from "./components/ImmichModule";
import { NginxVhost } from "./components/NginxVhost";
import { NixosApply, VerificationCheck } from "./components/NixosApply";
import { SopsSecret } from "./components/SopsSecret";
import { ConfigError, snapshotFolder } from "./lib/config";
import { refuse } from "./lib/refusal";
import { rebuildEffects } from "./lib/rebuildMode";
import { readStack } from "./lib/stack";
import { IN_SYNC, migrationDrift, mountsDrift, preflightProblems, sopsKeyDrift, subvolumeDrift } from "./lib/drift";
import { HostFacts, lookAtHost } from "./lib/hostFacts";

export = async () => {
  const { config, privateKey, dbPassword, immichApiKey, connection } = await userFacing(() => readStack(new pulumi.Config()));
  const { storage, pictures, nixos, immich, nginx, secrets } = config;
  const stateDir = "/var/lib/skylab-immich";
  const keepAt = storage.keepOriginalAt ?? `${storage.mountPoint}.pre-skylab-immich`;
  const gen = nixos.generatedDir;
  // What the program changes in the config repo: committed together, rolled back together.
  const ownedPaths = [gen, secrets.sopsFile];
  const files = {
    storage: `${gen}/storage-${slug(storage.mountPoint)}.nix`,
    pictures: `${gen}/storage-${slug(pictures.mountPoint)}.nix`,
    secrets: `${gen}/secrets.nix`,
    nginx: `${gen}/nginx.nix`,
    immich: `${gen}/immich.nix`,
  };
  const dataMountOptions = [`subvol=${storage.subvolume}`, `compress=${storage.compression}`, ...storage.mountOptions];
  const device = `/dev/disk/by-label/${storage.mediasLabel}`;
  const envTemplate = { name: "immich.env", variable: "DB_PASSWORD" };
  const ownership = { user: immich.user, group: immich.group, mode: "0700" };

  const checks: VerificationCheck[] = [
    { kind: "mount", mountPoint: storage.mountPoint, options: dataMountOptions },
    { kind: "owner", path: storage.mountPoint, owner: `${immich.user}:${immich.group}`, mode: "0700" },
    { kind: "mount", mountPoint: pictures.mountPoint, options: ["bind", "ro"] },
    { kind: "readable-by", path: pictures.mountPoint, user: immich.user },
    { kind: "secret", path: `/run/secrets/${secrets.dbPasswordKey}`, owner: `${immich.user}:${immich.group}`, mode: "0400" },
    { kind: "unit", unit: "immich-server.service" },
    { kind: "unit", unit: "immich-machine-learning.service" },
    { kind: "unit", unit: "nginx.service" },
    { kind: "http", url: `http://${immich.host}:${immich.port}/api/server/ping`, expect: "pong" },
    { kind: "http", url: "http://127.0.0.1/api/server/ping", expect: "pong", hostHeader: nginx.hostName },
  ];
  const expectedMounts = checks.flatMap((c) => (c.kind === "mount" ? [{ mountPoint: c.mountPoint, options: c.options }] : []));

  // One read-only look at the host: drift and preflight for the whole stack.
  let facts: HostFacts | undefined;
  const skipLook = !config.hostLook || process.env.SKYLAB_SKIP_HOST_LOOK === "1";
  if (skipLook) {
    pulumi.log.warn("host look skipped (hostLook=false or SKYLAB_SKIP_HOST_LOOK=1): drift was NOT checked and preflight did not run");
  } else {
    facts = await lookAtHost(
      { ...connection, privateKey: await plain(privateKey) },
      {
        mediasLabel: storage.mediasLabel, subvolumes: [storage.subvolume], mountPoints: expectedMounts.map((m) => m.mountPoint),
        configRepo: nixos.configRepo, files: Object.values(files), importPath: gen, migrationSource: storage.mountPoint, stateDir,
        sopsFile: secrets.sopsFile, sopsKeys: [secrets.dbPasswordKey], ageKeyFile: secrets.ageKeyFile,
        ownedPaths,
      },
    ).catch((err: Error) =>
      // Unreachable host, wrong host key, refused key: the message names the setting; no stack trace.
      refuse(`${err.message} (or preview offline with SKYLAB_SKIP_HOST_LOOK=1: drift is then not checked)`),
    );
    const problems = preflightProblems(facts, {
      mediasLabel: storage.mediasLabel, configRepo: nixos.configRepo, importPath: gen, host: connection.host,
      requiredTools: ["btrfs", "rsync", "git", "sops", "nixos-rebuild", "findmnt"],
    });
    if (problems.length) {
      await refuse(`SKYLAB is not ready; nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
  }
  const drift = (compute: (f: HostFacts) => string) => (facts ? compute(facts) : IN_SYNC);
  // The file as found on the host; the module's script compares it with what it is about to write.
  const hostSha256 = (key: keyof typeof files) => (facts ? facts.repo.files?.[files[key]] : undefined);
  const hostText = (key: keyof typeof files) => facts?.repo.fileTexts?.[files[key]];
  const conn = { ...connection, privateKey };
  const repo = nixos.configRepo;

  const subvolume = new BtrfsSubvolume("immich-subvolume", {
    connection: conn, mediasLabel: storage.mediasLabel, subvolume: storage.subvolume, compression: storage.compression,
    allowDataLoss: storage.allowDataLoss, snapshotsFolder: snapshotFolder(storage.subvolume),
    drift: drift((f) => subvolumeDrift(f, storage.subvolume, storage.compression)),
  });
  const immichUnits = ["immich-server.service", "immich-machine-learning.service"];
  const migration = new DataMigration("immich-data-migration", {
    connection: conn, mediasLabel: storage.mediasLabel, subvolume: storage.subvolume, source: storage.mountPoint, keepAt,
    units: immichUnits, stateDir, drift: drift((f) => migrationDrift(f, storage.mountPoint, storage.subvolume)),
  }, { dependsOn: [subvolume] });
  // Everything that writes to the config repo waits for the copy: a migration that fails (MEDIAS full,
  // the copy killed, the deployer gone) leaves the repo as it found it.
  const afterCopy = { dependsOn: [migration] };
  const dataMount = new FileSystemMount("immich-data-mount", {
    connection: conn, configRepo: repo, modulePath: files.storage, mountPoint: storage.mountPoint, device, fsType: "btrfs",
    options: dataMountOptions, ownership, hostSha256: hostSha256("storage"), hostText: hostText("storage"),
  }, afterCopy);
  const picturesMount = new BindMount("pictures-bind-mount", {
    connection: conn, configRepo: repo, modulePath: files.pictures, source: pictures.source, mountPoint: pictures.mountPoint,
    hostSha256: hostSha256("pictures"), hostText: hostText("pictures"),
  }, afterCopy);
  const dbSecret = new SopsSecret("immich-db-password", {
    connection: conn, configRepo: repo, sopsFile: secrets.sopsFile, key: secrets.dbPasswordKey, value: dbPassword,
    ageKeyFile: secrets.ageKeyFile, owner: immich.user, group: immich.group, restartUnits: ["immich-server.service"],
    envTemplate, modulePath: files.secrets, stateDir, hostSha256: hostSha256("secrets"), hostText: hostText("secrets"),
    valueDrift: drift((f) => sopsKeyDrift(f, secrets.sopsFile, secrets.dbPasswordKey)),
  }, afterCopy);
  const vhost = new NginxVhost("immich-vhost", {
    connection: conn, configRepo: repo, modulePath: files.nginx, hostName: nginx.hostName, upstreamHost: immich.host,
    upstreamPort: immich.port, clientMaxBodySize: nginx.clientMaxBodySize, hostSha256: hostSha256("nginx"), hostText: hostText("nginx"),
  }, afterCopy);
  const immichService = new ImmichModule("immich", {
    connection: conn, configRepo: repo, modulePath: files.immich, host: immich.host, port: immich.port,
    mediaLocation: storage.mountPoint, user: immich.user, group: immich.group, machineLearning: immich.machineLearning,
    databaseMode: immich.databaseMode, secretsTemplate: envTemplate.name, publicProxy: immich.publicProxy, hostSha256: hostSha256("immich"), hostText: hostText("immich"),
  }, afterCopy);

  const modules = [dataMount.module, picturesMount.module, dbSecret.module, vhost.module, immichService.module];
  const apply = new NixosApply("nixos-apply", {
    connection: conn, configRepo: repo, generatedDir: gen, moduleFiles: Object.values(files),
    moduleDigests: modules.map((m) => m.sha256), ownedPaths, mode: nixos.mode, checks,
    confirmTimeoutSeconds: nixos.confirmTimeoutSeconds, verifyTimeoutSeconds: nixos.verifyTimeoutSeconds,
    activationTimeoutSeconds: nixos.activationTimeoutSeconds, stateDir,
    dataPath: { source: storage.mountPoint, keptAt: keepAt, mediasLabel: storage.mediasLabel, subvolume: storage.subvolume, units: immichUnits },
    snapshots: {
      mediasLabel: storage.mediasLabel, subvolume: storage.subvolume, folder: snapshotFolder(storage.subvolume),
      keep: storage.snapshots.keep, mountPoint: storage.mountPoint, units: immichUnits,
    },
    // Live mounts are the running system's business only when the mode activates.
    drift: rebuildEffects(nixos.mode).activates ? drift((f) => mountsDrift(f, expectedMounts)) : IN_SYNC,
  }, { dependsOn: [dataMount, picturesMount, dbSecret, vhost, immichService] });

  // The External Library goes through Immich's API, so it waits for the applied (and verified) system.
  const library = config.library?.enabled && immichApiKey
    ? new ImmichExternalLibrary("immich-external-library", {
      connection: conn, apiUrl: config.library.apiUrl, apiKey: immichApiKey, name: config.library.name,
      ownerId: config.library.ownerId, ownerEmail: config.library.ownerEmail, importPaths: config.library.importPaths,
      exclusionPatterns: config.library.exclusionPatterns, scanAndWait: config.library.scanAndWait,
      scanTimeoutSeconds: config.library.scanTimeoutSeconds, deleteOnDestroy: config.library.deleteOnDestroy,
      rescanToken: config.library.rescanToken,
    }, { dependsOn: [apply] })
    : undefined;

  return {
    host: connection.host,
    hostLook: skipLook ? "skipped: drift not checked" : "done",
    generatedModules: Object.values(files),
    verification: apply.report,
    latestSnapshot: apply.latestSnapshot,
    ...(library
      ? {
        immichLibraryId: library.libraryId,
        indexingSeconds: library.indexing.apply((i) => i?.seconds ?? null),
        indexingAssetsFound: library.indexing.apply((i) => i?.assetsFound ?? null),
        indexingAssetsPerSecond: library.indexing.apply((i) => i?.assetsPerSecond ?? null),
      }
      : {}),
  };
};

/** A file name for a mount point: "/var/lib/immich" → "var-lib-immich". */
function slug(path: string): string {
  return path.replace(/^\/+/, "").replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase() || "root";
}

/** The plain value of a secret, for the program's own SSH look (it never leaves this process). */
function plain(value: pulumi.Output<string>): Promise<string> {
  return new Promise((resolve) => value.apply((v) => resolve(v)));
}

/** Errors the user fixes (config): shown as their message alone, without a stack trace. */
async function userFacing<T>(read: () => T): Promise<T> {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigError) return refuse(err.message);
    throw err;
  }
}
