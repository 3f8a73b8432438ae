import { createHash } from "crypto";
import { Secret } from "@pulumi/policy";
import { secretsPreservingProxy } from "@pulumi/policy/secret";
import { NAME, policy } from "../../policy/policies/skylab-storage-enforce-btrfs-mount-options";
import { fileSystemModule } from "../../components/FileSystemMount";
import { nixToJson, renderModule } from "../../lib/nix";
import { moduleText, observedFileDrift } from "../../providers/remoteScript/diff";
import { resourceArgs, urnOf, violations, withField } from "./harness";

const MOUNT = "skylab:storage:FileSystemMount";
const MODULE = "skylab:nixos:NixModuleFile";
const SCRIPT = "pulumi-nodejs:dynamic/skylab:RemoteScript";
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const connection = { host: "10.0.0.2", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", privateKey: "KEY", become: "none" };

const mountProps = {
  connection,
  configRepo: "/etc/nixos",
  modulePath: "modules/generated/skylab-immich/storage-var-lib-immich.nix",
  mountPoint: "/var/lib/immich",
  device: "/dev/disk/by-label/MEDIAS",
  fsType: "btrfs",
  options: ["subvol=@immich", "compress=zstd", "noatime"],
  ownership: { user: "immich", group: "immich", mode: "0700" },
};

const moduleProps = {
  connection,
  configRepo: "/etc/nixos",
  path: "modules/generated/skylab-immich/storage-var-lib-immich.nix",
  generator: "FileSystemMount",
  body: fileSystemModule(mountProps),
};

/** The RemoteScript that writes the module: its typed `module` is what its provider renders. */
const scriptProps = {
  connection,
  description: "NixOS module modules/generated/skylab-immich/storage-var-lib-immich.nix",
  create: "set -euo pipefail",
  values: { REPO: "/etc/nixos" },
  module: { value: "CONTENT", generator: "FileSystemMount", body: nixToJson(fileSystemModule(mountProps)) },
};
const underModule = {
  parentTypes: [MOUNT, MODULE],
  opts: { parent: urnOf(MODULE, "immich-data-mount-module", [MOUNT]) },
};
const SCRIPT_OPTIONS = ["module", "body", "fileSystems", "/var/lib/immich", "options"];

const M = 'BTRFS mount /var/lib/immich of FileSystemMount "immich-data-mount"';
const F = 'BTRFS mount /var/lib/immich in NixModuleFile "immich-data-mount-module" (modules/generated/skylab-immich/storage-var-lib-immich.nix)';
const CFG_C = "(stack config `storage.compression`)";
const CFG_O = "(stack config `storage.mountOptions`)";

describe(NAME, () => {
  test("the compliant FileSystemMount and its NixModuleFile pass", async () => {
    expect(await violations(policy, resourceArgs(MOUNT, "immich-data-mount", mountProps))).toEqual([]);
    expect(await violations(policy, resourceArgs(MODULE, "immich-data-mount-module", moduleProps))).toEqual([]);
  });

  test.each<[string, string[], string[]]>([
    ["noatime missing", ["subvol=@immich", "compress=zstd"], [`${M} lacks "noatime": add "noatime" to its options ${CFG_O}.`]],
    ["lzo", ["subvol=@immich", "compress=lzo", "noatime"], [`${M} has "compress=lzo", which compresses with lzo instead of zstd: replace it with "compress=zstd" ${CFG_C}.`]],
    ["zlib with a level", ["subvol=@immich", "compress=zlib:3", "noatime"], [`${M} has "compress=zlib:3", which compresses with zlib instead of zstd: replace it with "compress=zstd" ${CFG_C}.`]],
    ["bare compress means zlib", ["subvol=@immich", "compress", "noatime"], [`${M} has "compress", which compresses with zlib instead of zstd: replace it with "compress=zstd" ${CFG_C}.`]],
    ["compress=no", ["subvol=@immich", "compress=no", "noatime"], [`${M} has "compress=no", which turns compression off: replace it with "compress=zstd" ${CFG_C}.`]],
    ["no compression at all", ["subvol=@immich", "noatime"], [`${M} has no compress option: add "compress=zstd" to its options ${CFG_C}.`]],
    ["zstd level above the range", ["subvol=@immich", "compress=zstd:16", "noatime"], [`${M} has "compress=zstd:16", outside the allowed zstd levels 1 to 15: use "compress=zstd:N" with N from 1 to 15, or "compress=zstd" for the default level ${CFG_C}.`]],
    ["zstd level 0", ["subvol=@immich", "compress=zstd:0", "noatime"], [`${M} has "compress=zstd:0", outside the allowed zstd levels 1 to 15: use "compress=zstd:N" with N from 1 to 15, or "compress=zstd" for the default level ${CFG_C}.`]],
    ["compress-force=lzo", ["subvol=@immich", "compress-force=lzo", "noatime"], [`${M} has "compress-force=lzo", which compresses with lzo instead of zstd: replace it with "compress-force=zstd" ${CFG_C}.`]],
    ["nodatacow", ["subvol=@immich", "compress=zstd", "noatime", "nodatacow"], [`${M} has "nodatacow", which disables copy-on-write, and with it compression and checksums, for new files: remove it ${CFG_O}.`]],
    ["nodatasum", ["subvol=@immich", "compress=zstd", "noatime", "nodatasum"], [`${M} has "nodatasum", which disables data checksums, and with them compression, for new files: remove it ${CFG_O}.`]],
    ["atime after noatime", ["subvol=@immich", "compress=zstd", "noatime", "atime"], [`${M} has "atime", which turns access-time updates back on: remove it ${CFG_O}.`]],
    ["strictatime", ["subvol=@immich", "compress=zstd", "noatime", "strictatime"], [`${M} has "strictatime", which turns access-time updates back on for every read: remove it ${CFG_O}.`]],
    ["relatime instead of noatime", ["subvol=@immich", "compress=zstd", "relatime"], [
      `${M} lacks "noatime": add "noatime" to its options ${CFG_O}.`,
      `${M} has "relatime", which turns access-time updates back on: remove it ${CFG_O}.`,
    ]],
  ])("FileSystemMount with %s", async (_case, options, expected) => {
    expect(await violations(policy, resourceArgs(MOUNT, "immich-data-mount", withField(mountProps, "options", options)))).toEqual(expected);
  });

  test.each<[string, string[]]>([
    ["compress-force=zstd", ["subvol=@immich", "compress-force=zstd", "noatime"]],
    ["zstd at the lowest level", ["subvol=@immich", "compress=zstd:1", "noatime"]],
    ["zstd at the highest level", ["subvol=@immich", "compress=zstd:15", "noatime"]],
    ["lazytime besides noatime", ["subvol=@immich", "compress=zstd", "noatime", "lazytime"]],
  ])("FileSystemMount with %s passes", async (_case, options) => {
    expect(await violations(policy, resourceArgs(MOUNT, "immich-data-mount", withField(mountProps, "options", options)))).toEqual([]);
  });

  test("a mount that is not BTRFS is not checked", async () => {
    const ext4 = withField(mountProps, "fsType", "ext4");
    expect(await violations(policy, resourceArgs(MOUNT, "immich-data-mount", withField(ext4, "options", ["defaults"])))).toEqual([]);
  });

  test("the allowed zstd levels come from the policy's config", async () => {
    const args = resourceArgs(MOUNT, "immich-data-mount", withField(mountProps, "options", ["subvol=@immich", "compress=zstd:9", "noatime"]), {
      config: { minimumZstdLevel: 1, maximumZstdLevel: 3 },
    });
    expect(await violations(policy, args)).toEqual([
      `${M} has "compress=zstd:9", outside the allowed zstd levels 1 to 3: use "compress=zstd:N" with N from 1 to 3, or "compress=zstd" for the default level ${CFG_C}.`,
    ]);
  });

  test.each<[string, string[], string[]]>([
    ["noatime missing", ["subvol=@immich", "compress=zstd"], [`${F} lacks "noatime": add "noatime" to its options ${CFG_O}.`]],
    ["lzo", ["subvol=@immich", "compress=lzo", "noatime"], [`${F} has "compress=lzo", which compresses with lzo instead of zstd: replace it with "compress=zstd" ${CFG_C}.`]],
  ])("NixModuleFile rendering a mount with %s", async (_case, options, expected) => {
    const props = withField(moduleProps, ["body", "fileSystems", "/var/lib/immich", "options"], options);
    expect(await violations(policy, resourceArgs(MODULE, "immich-data-mount-module", props))).toEqual(expected);
  });

  test("a BTRFS mount rendered by another generator is checked, with no stack setting named", async () => {
    const props = withField(withField(moduleProps, "generator", "Custom"), ["body", "fileSystems", "/var/lib/immich", "options"], ["compress=zstd"]);
    expect(await violations(policy, resourceArgs(MODULE, "hand-made-module", props))).toEqual([
      'BTRFS mount /var/lib/immich in NixModuleFile "hand-made-module" (modules/generated/skylab-immich/storage-var-lib-immich.nix) lacks "noatime": add "noatime" to its options.',
    ]);
  });

  test("a RemoteScript built in user code (parent: the stack) is judged by its module's typed body", async () => {
    const props = withField(scriptProps, SCRIPT_OPTIONS, ["subvol=@immich", "compress=zstd"]);
    expect(await violations(policy, resourceArgs(SCRIPT, "hand-made", props))).toEqual([
      'BTRFS mount /var/lib/immich in RemoteScript "hand-made" (NixOS module modules/generated/skylab-immich/storage-var-lib-immich.nix) lacks "noatime": add "noatime" to its options (stack config `storage.mountOptions`).',
    ]);
  });

  test("the RemoteScript a NixModuleFile built is not reported again (the module reports the same entry)", async () => {
    const props = withField(scriptProps, SCRIPT_OPTIONS, ["subvol=@immich", "compress=zstd"]);
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-data-mount-module-file", props, underModule))).toEqual([]);
  });

  test("a NixModuleFile's non-BTRFS entries (the bind mount) are not checked", async () => {
    const body = { fileSystems: { "/media/immich": { device: "/home/zipang/Pictures/Digicam", fsType: "none", options: ["bind", "ro"] } } };
    expect(await violations(policy, resourceArgs(MODULE, "pictures-bind-mount-module", withField(moduleProps, "body", body)))).toEqual([]);
  });
});

describe(`${NAME} remediation`, () => {
  const remediate = async (args: ReturnType<typeof resourceArgs>) => policy.remediateResource!(args);

  test.each<[string, string[], string[]]>([
    ["adds noatime", ["subvol=@immich", "compress=zstd"], ["subvol=@immich", "compress=zstd", "noatime"]],
    ["replaces lzo with zstd", ["subvol=@immich", "compress=lzo", "noatime"], ["subvol=@immich", "compress=zstd", "noatime"]],
    ["keeps compress-force", ["subvol=@immich", "compress-force=zlib:3", "noatime"], ["subvol=@immich", "compress-force=zstd", "noatime"]],
    ["clamps a zstd level", ["subvol=@immich", "compress=zstd:19", "noatime"], ["subvol=@immich", "compress=zstd:15", "noatime"]],
    ["adds compression after subvol=", ["subvol=@immich", "noatime"], ["subvol=@immich", "compress=zstd", "noatime"]],
    ["drops relatime for noatime", ["subvol=@immich", "compress=zstd", "relatime"], ["subvol=@immich", "compress=zstd", "noatime"]],
    ["leaves nodatacow for a person", ["subvol=@immich", "compress=zstd", "nodatacow"], ["subvol=@immich", "compress=zstd", "nodatacow", "noatime"]],
  ])("FileSystemMount: %s", async (_case, options, expected) => {
    const result = await remediate(resourceArgs(MOUNT, "immich-data-mount", withField(mountProps, "options", options)));
    expect(result).toEqual(withField(mountProps, "options", expected));
  });

  test("a compliant mount is left alone (no remediation reported)", async () => {
    expect(await remediate(resourceArgs(MOUNT, "immich-data-mount", structuredClone(mountProps)))).toBeUndefined();
  });

  test("NixModuleFile: the body's BTRFS entry gets noatime", async () => {
    const props = withField(moduleProps, ["body", "fileSystems", "/var/lib/immich", "options"], ["subvol=@immich", "compress=zstd"]);
    expect(await remediate(resourceArgs(MODULE, "immich-data-mount-module", props))).toEqual(moduleProps);
  });

  test("RemoteScript: its module's typed body is fixed, also under a NixModuleFile (it is what the provider renders)", async () => {
    const props = withField(scriptProps, SCRIPT_OPTIONS, ["subvol=@immich", "compress=lzo"]);
    expect(await remediate(resourceArgs(SCRIPT, "immich-data-mount-module-file", props, underModule))).toEqual(scriptProps);
  });

  test("RemoteScript: a compliant module and a script without a module are left alone", async () => {
    expect(await remediate(resourceArgs(SCRIPT, "immich-data-mount-module-file", structuredClone(scriptProps), underModule))).toBeUndefined();
    expect(await remediate(resourceArgs(SCRIPT, "nixos-apply-rebuild", { connection, values: { MODE: "switch" } }))).toBeUndefined();
  });

  test("the remediated script writes the fixed module, and a host holding that file has no drift", async () => {
    const declared = withField(scriptProps, SCRIPT_OPTIONS, ["subvol=@immich", "compress=lzo"]);
    const remediated = (await remediate(resourceArgs(SCRIPT, "immich-data-mount-module-file", structuredClone(declared), underModule)))!;
    const fixed = renderModule({ generator: "FileSystemMount", body: fileSystemModule({ ...mountProps, options: ["subvol=@immich", "compress=zstd", "noatime"] }) });
    expect(moduleText(remediated)).toBe(fixed);
    const path = "modules/generated/skylab-immich/storage-var-lib-immich.nix";
    expect(observedFileDrift({ module: remediated.module, observedFile: { sha256: sha256(fixed), path } })).toBeUndefined();
    // Positive control: judged by the declared body, the same host file would be drift.
    expect(observedFileDrift({ module: declared.module, observedFile: { sha256: sha256(fixed), path } })).toBe(`${path} was edited on the host`);
  });

  test("props are changed in place, so the connection's private key stays a secret", async () => {
    const raw = { ...structuredClone(mountProps), connection: { ...connection, privateKey: new Secret("KEY") }, options: ["subvol=@immich", "compress=zstd"] };
    const proxied = secretsPreservingProxy(raw);
    const result = await remediate(resourceArgs(MOUNT, "immich-data-mount", proxied));
    expect(result).toBe(proxied);
    expect(raw.options).toEqual(["subvol=@immich", "compress=zstd", "noatime"]);
    expect(raw.connection.privateKey).toBeInstanceOf(Secret);
    expect((raw.connection.privateKey as Secret).value).toBe("KEY");
  });
});
