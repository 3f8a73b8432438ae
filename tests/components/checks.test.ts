/**
 * Each component declares what the apply verifies of it (its `checks`) and where its module lives; the
 * composition root only collects them. Exact values, for every component that has them.
 */
import * as pulumi from "@pulumi/pulumi";
import { BindMount } from "../../components/BindMount";
import { FileSystemMount } from "../../components/FileSystemMount";
import { ImmichModule, immichUnits } from "../../components/ImmichModule";
import { NginxVhost } from "../../components/NginxVhost";
import { SopsSecret } from "../../components/SopsSecret";
import { declaredOptions } from "../../components/verification";
import { connectionInput, installMocks, NIX_MODULE_FILE, REMOTE_SCRIPT, valueOf } from "./mocks";

const mocks = installMocks([
  "skylab:storage:FileSystemMount", "skylab:storage:BindMount", "skylab:secrets:SopsSecret", "skylab:apps:ImmichModule",
  "skylab:web:NginxVhost", NIX_MODULE_FILE, REMOTE_SCRIPT,
]);
beforeEach(() => mocks.reset());
const GEN = "modules/generated/skylab-immich";
const base = { connection: connectionInput(), configRepo: "/etc/nixos" };

test("module paths: one per mount point (as a file name), one per concern", () => {
  expect(FileSystemMount.modulePath(GEN, "/var/lib/immich")).toBe(`${GEN}/storage-var-lib-immich.nix`);
  expect(BindMount.modulePath(GEN, "/media/my \"immich\"")).toBe(`${GEN}/storage-media-my_20_22immich_22.nix`);
  // One to one: paths that differ only in punctuation or case never share a file.
  expect(BindMount.modulePath(GEN, "/var/lib-immich")).toBe(`${GEN}/storage-var-lib_2dimmich.nix`);
  expect(FileSystemMount.modulePath(GEN, "/var/lib/Immich")).toBe(`${GEN}/storage-var-lib-Immich.nix`);
  expect(SopsSecret.modulePath(GEN)).toBe(`${GEN}/secrets.nix`);
  expect(NginxVhost.modulePath(GEN)).toBe(`${GEN}/nginx.nix`);
  expect(ImmichModule.modulePath(GEN)).toBe(`${GEN}/immich.nix`);
});

test("FileSystemMount: the mount with the options as written, and the ownership", async () => {
  const mount = new FileSystemMount("data", {
    ...base, modulePath: "m.nix", mountPoint: "/var/lib/immich", device: "/dev/disk/by-label/MEDIAS", fsType: "btrfs",
    options: ["subvol=@immich", "compress=zstd", "noatime"], ownership: { user: "immich", group: "photos", mode: "0700" },
  });
  expect(await valueOf(mount.checks)).toStrictEqual([
    { kind: "mount", mountPoint: "/var/lib/immich", options: ["subvol=@immich", "compress=zstd", "noatime"] },
    { kind: "owner", path: "/var/lib/immich", owner: "immich:photos", mode: "0700" },
  ]);
});

test("FileSystemMount without ownership: the mount alone", async () => {
  const mount = new FileSystemMount("plain", { ...base, modulePath: "m.nix", mountPoint: "/srv/x", device: "/dev/sdb1", fsType: "ext4", options: ["noatime"] });
  expect(await valueOf(mount.checks)).toStrictEqual([{ kind: "mount", mountPoint: "/srv/x", options: ["noatime"] }]);
});

test("BindMount: the read-only bind as written, and who must be able to read it", async () => {
  const bind = new BindMount("pictures", { ...base, modulePath: "p.nix", source: "/home/zipang/Pictures/Digicam", mountPoint: "/media/immich", readableBy: "immich" });
  expect(await valueOf(bind.checks)).toStrictEqual([
    { kind: "mount", mountPoint: "/media/immich", options: ["bind", "ro"] },
    { kind: "readable-by", path: "/media/immich", user: "immich" },
  ]);
  const writable = new BindMount("rw", { ...base, modulePath: "w.nix", source: "/srv/a", mountPoint: "/srv/b", readOnly: false });
  expect(await valueOf(writable.checks)).toStrictEqual([{ kind: "mount", mountPoint: "/srv/b", options: ["bind"] }]);
});

test("SopsSecret: the decrypted file at sops-nix's path, with owner and mode", () => {
  const secret = new SopsSecret("db", {
    ...base, sopsFile: "secrets/secrets.yaml", key: "immich/db_password", ageKeyFile: "/var/lib/sops-nix/key.txt", owner: "immich",
    group: "immich", restartUnits: [], modulePath: "s.nix", value: pulumi.secret("x"),
  });
  expect(secret.checks).toStrictEqual([{ kind: "secret", path: "/run/secrets/immich/db_password", owner: "immich:immich", mode: "0400" }]);
});

test("ImmichModule: its units (machine learning only when enabled) and its ping where it listens", () => {
  const settings = {
    ...base, modulePath: "i.nix", port: 2283, mediaLocation: "/var/lib/immich", user: "immich", group: "immich",
    databaseMode: "socket" as const, publicProxy: { enabled: false, port: 3000 },
  };
  expect(new ImmichModule("a", { ...settings, host: "127.0.0.1", machineLearning: true }).checks).toStrictEqual([
    { kind: "unit", unit: "postgresql.service" },
    { kind: "unit", unit: "immich-server.service" },
    { kind: "unit", unit: "immich-machine-learning.service" },
    { kind: "http", url: "http://127.0.0.1:2283/api/server/ping", expect: "pong" },
  ]);
  expect(new ImmichModule("b", { ...settings, host: "::1", machineLearning: false }).checks).toStrictEqual([
    { kind: "unit", unit: "postgresql.service" },
    { kind: "unit", unit: "immich-server.service" },
    { kind: "http", url: "http://[::1]:2283/api/server/ping", expect: "pong" },
  ]);
  expect(new ImmichModule("c", { ...settings, host: "127.0.0.1", machineLearning: false, databaseMode: "tcp", dbPasswordSecret: "immich/db_password" }).checks).toStrictEqual([
    { kind: "unit", unit: "postgresql.service" },
    { kind: "unit", unit: "immich-db-password.service" },
    { kind: "unit", unit: "immich-server.service" },
    { kind: "http", url: "http://127.0.0.1:2283/api/server/ping", expect: "pong" },
  ]);
  expect(immichUnits(false)).toStrictEqual(["immich-server.service"]);
});

test("NginxVhost: nginx runs and answers for the virtual host", () => {
  const vhost = new NginxVhost("v", { ...base, modulePath: "n.nix", hostName: "immich.skylab.local", upstreamHost: "127.0.0.1", upstreamPort: 2283, clientMaxBodySize: "50000M" });
  expect(vhost.checks).toStrictEqual([
    { kind: "unit", unit: "nginx.service" },
    { kind: "http", url: "http://127.0.0.1/api/server/ping", expect: "pong", hostHeader: "immich.skylab.local" },
  ]);
});

describe("declaredOptions", () => {
  test("the options of the entry in the body, e.g. after a policy added noatime", () => {
    expect(declaredOptions({ fileSystems: { "/m": { options: ["compress=zstd", "noatime"] } } }, "/m", ["compress=zstd"])).toStrictEqual(["compress=zstd", "noatime"]);
  });
  test.each<[string, unknown]>([
    ["no body", undefined],
    ["no entry for the mount point", { fileSystems: { "/other": { options: ["ro"] } } }],
    ["options that are not a list of strings", { fileSystems: { "/m": { options: [1] } } }],
  ])("%s: the declared fallback", (_name, body) => {
    expect(declaredOptions(body, "/m", ["x"])).toStrictEqual(["x"]);
  });
});

test("module file names are one to one with mount points (property: any two different paths, two names)", () => {
  // fast-check: paths of awkward segments; the name is a plain file name and decodes back to the path.
  const fc = require("fast-check") as typeof import("fast-check");
  const segment = fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }).filter((s) => !s.includes("/") && s !== "." && s !== "..");
  const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join("/")}`);
  const decode = (name: string) =>
    `/${Buffer.from(name.replace(/-/g, "/").replace(/_([0-9a-f]{2})/g, (_m, hex: string) => `%${hex}`).split("%").map((part, i) =>
      i === 0 ? part : String.fromCharCode(parseInt(part.slice(0, 2), 16)) + part.slice(2)).join(""), "latin1").toString("utf8")}`;
  fc.assert(fc.property(path, (p) => {
    const name = BindMount.modulePath(GEN, p).slice(`${GEN}/storage-`.length, -".nix".length);
    expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(decode(name)).toBe(p);
  }), { numRuns: 300 });
});
