// Composition root: read and validate the stack config, look at the host once, build the components,
// export what `up` verified. Each component knows its own module file and verification checks;
// everything that touches SKYLAB lives in components/.
import * as pulumi from "./lib/pulumi";
import { BindMount, bindMountModule } from "./components/BindMount";
import { BtrfsSubvolume } from "./components/BtrfsSubvolume";
import { CloudflareTunnel } from "./components/CloudflareTunnel";
import { DataMigration } from "./components/DataMigration";
import { FileSystemMount, fileSystemModule } from "./components/FileSystemMount";
import { ImmichExternalLibrary } from "./components/ImmichExternalLibrary";
import { IMMICH_DB_PASSWORD_UNIT, IMMICH_STATE_DIRECTORY_MODE, ImmichModule, immichModule, immichServiceUnits, immichUnits } from "./components/ImmichModule";
import { NginxVhost, nginxVhostModule } from "./components/NginxVhost";
import { NixosApply } from "./components/NixosApply";
import { SopsSecret, sopsSecretModule } from "./components/SopsSecret";
import { snapshotFolder } from "./lib/config";
import { IMMICH_SERVER_UNIT, NGINX_ORIGIN, NGINX_UNIT, STATE_DIR } from "./lib/constants";
import { IN_SYNC, joinDrift, migrationDrift, mountsDrift, sopsKeyDrift, subvolumeDrift, unitsDrift } from "./lib/drift";
import { HostFacts } from "./lib/remote/hostFacts";
import { judgeOwnerOrRefuse, lookBeforeConverging } from "./lib/look";
import { ownerRequestPaths, PlannedModule } from "./lib/ownerDefinitions";
import { rebuildEffects } from "./lib/rebuildMode";
import { readStackOrRefuse } from "./lib/stack";

export = async () => {
  const { config, privateKey, dbPassword, immichApiKey, tunnelCredentials, connection } = await readStackOrRefuse(new pulumi.Config());
  const { storage, pictures, nixos, immich, nginx, secrets } = config;
  const gen = nixos.generatedDir;
  // Off: no module and no sops key of the tunnel; the apply removes a module no component declares.
  const tunnel = config.tunnel.enabled && tunnelCredentials && config.tunnel.tunnelId && config.tunnel.publicHostName
    ? { ...config.tunnel, tunnelId: config.tunnel.tunnelId, publicHostName: config.tunnel.publicHostName, credentials: tunnelCredentials }
    : undefined;
  const files: Record<"storage" | "pictures" | "secrets" | "nginx" | "immich", string> & { tunnel?: string; tunnelSecret?: string } = {
    storage: FileSystemMount.modulePath(gen, storage.mountPoint),
    pictures: BindMount.modulePath(gen, pictures.mountPoint),
    secrets: SopsSecret.modulePath(gen),
    nginx: NginxVhost.modulePath(gen),
    immich: ImmichModule.modulePath(gen),
    ...(tunnel ? { tunnelSecret: CloudflareTunnel.secretModulePath(gen), tunnel: CloudflareTunnel.modulePath(gen) } : {}),
  };
  const sopsKeys = [secrets.dbPasswordKey, ...(tunnel ? [tunnel.credentialsKey] : [])];
  // What the program changes in the config repo: committed together, rolled back together.
  const ownedPaths = [gen, secrets.sopsFile];
  const dataMountOptions = [`subvol=${storage.subvolume}`, `compress=${storage.compression}`, ...storage.mountOptions];
  const expectedMounts = [
    { mountPoint: storage.mountPoint, options: dataMountOptions },
    { mountPoint: pictures.mountPoint, options: ["bind", "ro"] },
  ];
  // What each generated module is made of, defined once: the components write them, and the look asks the
  // host which of their options the owner's own configuration defines already.
  const dataMountArgs = {
    mountPoint: storage.mountPoint, device: `/dev/disk/by-label/${storage.mediasLabel}`, fsType: "btrfs", options: dataMountOptions,
    ownership: { user: immich.user, group: immich.group, mode: IMMICH_STATE_DIRECTORY_MODE },
  };
  const picturesArgs = { source: pictures.source, mountPoint: pictures.mountPoint };
  const envTemplate = { name: "immich.env", variable: "DB_PASSWORD" };
  const secretArgs = {
    key: secrets.dbPasswordKey, owner: immich.user, group: immich.group, envTemplate,
    restartUnits: immich.databaseMode === "tcp" ? [IMMICH_DB_PASSWORD_UNIT, IMMICH_SERVER_UNIT] : [IMMICH_SERVER_UNIT],
  };
  const immichArgs = {
    host: immich.host, port: immich.port, mediaLocation: storage.mountPoint, user: immich.user, group: immich.group,
    machineLearning: immich.machineLearning, databaseMode: immich.databaseMode, secretsTemplate: envTemplate.name,
    dbPasswordSecret: secrets.dbPasswordKey, publicProxy: immich.publicProxy,
  };
  const vhostArgs = {
    hostName: nginx.hostName, upstreamHost: immich.host, upstreamPort: immich.port, clientMaxBodySize: nginx.clientMaxBodySize,
    ...(tunnel ? { serverAliases: [tunnel.publicHostName] } : {}),
  };
  const planned: PlannedModule[] = [
    { file: files.storage, body: fileSystemModule(dataMountArgs) },
    { file: files.pictures, body: bindMountModule(picturesArgs) },
    { file: files.secrets, body: sopsSecretModule(secretArgs) },
    { file: files.immich, body: immichModule(immichArgs) },
    { file: files.nginx, body: nginxVhostModule(vhostArgs) },
  ];
  // The units the configuration runs: one stopped or failed by hand is drift, started by the verified apply.
  const declaredUnits = [...immichServiceUnits(immichArgs), NGINX_UNIT];
  const skipLook = !config.hostLook || process.env.SKYLAB_SKIP_HOST_LOOK === "1";
  const facts = await lookBeforeConverging(connection, privateKey, {
    mediasLabel: storage.mediasLabel, subvolumes: [storage.subvolume], mounts: expectedMounts, configRepo: nixos.configRepo,
    files: Object.values(files), importPath: gen, migrationSource: storage.mountPoint, stateDir: STATE_DIR,
    sopsFile: secrets.sopsFile, sopsKeys, ageKeyFile: secrets.ageKeyFile, ownedPaths, ownerPaths: ownerRequestPaths(planned),
    folders: [{ path: pictures.source, key: "pictures.source" }], units: declaredUnits,
  }, skipLook);
  // The owner's own definitions: identical ones adopted, others refused here, before anything is written.
  const owner = await judgeOwnerOrRefuse(facts, planned, nixos.configRepo);
  if (facts?.medias.subvolumes?.[storage.subvolume] && !facts.migration.done) {
    pulumi.log.info(`subvolume ${storage.subvolume} already exists on ${storage.mediasLabel}: it is used as it is, not made again`);
  }
  const drift = (compute: (f: HostFacts) => string) => (facts ? compute(facts) : IN_SYNC);
  // The module as found on the host; its script compares that with what it is about to write.
  // What every writer of the repo gets: how the look found its module, what it adopts, how long it waits for
  // another stack's apply.
  const found = (key: keyof typeof files): { hostSha256?: string | null; hostText?: string; adopted?: string[][]; lockWaitSeconds: number } => {
    const file = files[key];
    const lockWaitSeconds = nixos.lockWaitSeconds;
    if (!facts || !file) return { lockWaitSeconds };
    const adopted = owner?.adopted[file];
    return { hostSha256: facts.repo.files?.[file], hostText: facts.repo.fileTexts?.[file], ...(adopted ? { adopted } : {}), lockWaitSeconds };
  };
  const conn = { ...connection, privateKey };
  const repo = nixos.configRepo;
  const dataUnits = immichUnits(immich.machineLearning);

  const subvolume = new BtrfsSubvolume("immich-subvolume", {
    connection: conn, mediasLabel: storage.mediasLabel, subvolume: storage.subvolume, compression: storage.compression,
    allowDataLoss: storage.allowDataLoss, snapshotsFolder: snapshotFolder(storage.subvolume),
    drift: drift((f) => subvolumeDrift(f, storage.subvolume, storage.compression)),
  });
  const keepAt = storage.keepOriginalAt ?? `${storage.mountPoint}.pre-skylab-immich`;
  const migration = new DataMigration("immich-data-migration", {
    connection: conn, mediasLabel: storage.mediasLabel, subvolume: storage.subvolume, source: storage.mountPoint, keepAt,
    units: dataUnits, drift: drift((f) => migrationDrift(f, storage.mountPoint, storage.subvolume)),
  }, { dependsOn: [subvolume] });
  // Everything that writes to the config repo waits for the copy: a migration that fails (MEDIAS full,
  // the copy killed, the deployer gone) leaves the repo as it found it.
  const afterCopy = { dependsOn: [migration] };
  const dataMount = new FileSystemMount("immich-data-mount", {
    connection: conn, configRepo: repo, modulePath: files.storage, ...dataMountArgs, ...found("storage"),
  }, afterCopy);
  const picturesMount = new BindMount("pictures-bind-mount", {
    connection: conn, configRepo: repo, modulePath: files.pictures, ...picturesArgs, readableBy: immich.user, ...found("pictures"),
  }, afterCopy);
  const dbSecret = new SopsSecret("immich-db-password", {
    connection: conn, configRepo: repo, sopsFile: secrets.sopsFile, value: dbPassword, ageKeyFile: secrets.ageKeyFile,
    ...secretArgs, modulePath: files.secrets, ...found("secrets"),
    valueDrift: drift((f) => sopsKeyDrift(f, secrets.sopsFile, secrets.dbPasswordKey)),
  }, afterCopy);
  const immichService = new ImmichModule("immich", {
    connection: conn, configRepo: repo, modulePath: files.immich, ...immichArgs, ...found("immich"),
  }, afterCopy);
  const vhost = new NginxVhost("immich-vhost", {
    connection: conn, configRepo: repo, modulePath: files.nginx, ...vhostArgs, ...found("nginx"),
  }, afterCopy);
  const tunnelFound = found("tunnelSecret");
  const cloudflare = tunnel && files.tunnel && files.tunnelSecret
    ? new CloudflareTunnel("cloudflare-tunnel", {
      connection: conn, configRepo: repo, modulePath: files.tunnel, secretModulePath: files.tunnelSecret,
      tunnelId: tunnel.tunnelId, publicHostName: tunnel.publicHostName, origin: NGINX_ORIGIN, credentials: tunnel.credentials,
      sopsFile: secrets.sopsFile, credentialsKey: tunnel.credentialsKey, ageKeyFile: secrets.ageKeyFile, ...found("tunnel"),
      secretHostSha256: tunnelFound.hostSha256, secretHostText: tunnelFound.hostText,
      credentialsDrift: drift((f) => sopsKeyDrift(f, secrets.sopsFile, tunnel.credentialsKey)),
    }, afterCopy)
    : undefined;

  const parts = [dataMount, picturesMount, dbSecret, immichService, vhost, ...(cloudflare ? [cloudflare] : [])];
  // Each generated file with the sha256 of the text this stack writes into it, in the order of `files`.
  const written: Record<keyof typeof files, pulumi.Output<string> | undefined> = {
    storage: dataMount.module.sha256, pictures: picturesMount.module.sha256, secrets: dbSecret.module.sha256,
    nginx: vhost.module.sha256, immich: immichService.module.sha256,
    tunnelSecret: cloudflare?.credentials.module.sha256, tunnel: cloudflare?.module.sha256,
  };
  const moduleFiles = (Object.keys(files) as (keyof typeof files)[]).filter((k) => files[k] !== undefined);
  const apply = new NixosApply("nixos-apply", {
    connection: conn, configRepo: repo, generatedDir: gen, moduleFiles: moduleFiles.map((k) => files[k] as string),
    moduleSha256s: moduleFiles.map((k) => written[k] as pulumi.Output<string>), stack: pulumi.getStack(),
    lockWaitSeconds: nixos.lockWaitSeconds,
    // The modules' content, and the secrets' revisions: a rotated value is decrypted by the next activation.
    moduleDigests: [
      ...parts.map((p) => p.module.sha256), dbSecret.revision,
      ...(cloudflare ? [cloudflare.credentials.module.sha256, cloudflare.credentials.revision] : []),
    ], ownedPaths, mode: nixos.mode, checks: parts.map((p) => p.checks),
    confirmTimeoutSeconds: nixos.confirmTimeoutSeconds, verifyTimeoutSeconds: nixos.verifyTimeoutSeconds,
    activationTimeoutSeconds: nixos.activationTimeoutSeconds,
    dataPath: { source: storage.mountPoint, keptAt: keepAt, mediasLabel: storage.mediasLabel, subvolume: storage.subvolume, units: dataUnits },
    snapshots: {
      mediasLabel: storage.mediasLabel, subvolume: storage.subvolume, folder: snapshotFolder(storage.subvolume),
      keep: storage.snapshots.keep, mountPoint: storage.mountPoint, units: dataUnits,
    },
    // Live mounts are the running system's business only when the mode activates.
    drift: rebuildEffects(nixos.mode).activates
      ? drift((f) => joinDrift(mountsDrift(f, expectedMounts), unitsDrift(f, declaredUnits)))
      : IN_SYNC,
  }, { dependsOn: parts });

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
    ...(library ? library.stackOutputs() : {}),
  };
};
