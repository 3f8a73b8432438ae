import {
  ExpectedMount,
  IN_SYNC,
  migrationDrift,
  moduleFileDrift,
  mountsDrift,
  PreflightInput,
  joinDrift,
  preflightProblems,
  unitsDrift,
  sopsKeyDrift,
  subvolumeDrift,
} from "../../lib/drift";
import type { HostFacts } from "../../lib/remote/hostFacts";

/** A host that is ready and converged: every look succeeded and found what `up` left. */
function readyHost(): HostFacts {
  return {
    medias: {
      label: "MEDIAS",
      device: "/dev/sdb1",
      fstype: "btrfs",
      freeBytes: 1_000_000,
      subvolumes: { "@immich": { compression: "zstd" } },
    },
    mounts: {
      "/var/lib/immich": {
        source: "/dev/sdb1[/@immich]", fstype: "btrfs", options: "rw,noatime,compress=zstd:3,ssd,space_cache=v2,subvolid=256,subvol=/@immich",
        fsroot: "/@immich", matches: true, verdict: "/dev/sdb1[/@immich] btrfs rw,noatime,compress=zstd:3,ssd,space_cache=v2,subvolid=256,subvol=/@immich",
      },
      "/media/immich": {
        source: "/dev/sda2[/home/zipang/Pictures/Digicam]", fstype: "ext4", options: "ro,relatime", fsroot: "/home/zipang/Pictures/Digicam",
        matches: true, verdict: "/dev/sda2[/home/zipang/Pictures/Digicam] ext4 ro,relatime",
      },
    },
    repo: {
      isGit: true,
      head: "0123abc",
      importsGenerated: true,
      files: { "modules/generated/skylab-immich/immich.nix": "a".repeat(64) },
      sopsKeys: { "immich/db_password": true },
    },
    system: { current: "/nix/store/aaa-nixos-system", profile: "/nix/store/aaa-nixos-system" },
    migration: { done: true, sourceBytes: null },
    tools: { btrfs: "/run/current-system/sw/bin/btrfs", rsync: "/run/current-system/sw/bin/rsync" },
  };
}

describe("subvolumeDrift", () => {
  test.each<[string, HostFacts["medias"]["subvolumes"], string, string]>([
    ["present with the algorithm", { "@immich": { compression: "zstd" } }, "zstd", IN_SYNC],
    ["a level in the config compares by algorithm only", { "@immich": { compression: "zstd" } }, "zstd:3", IN_SYNC],
    ["filesystem not readable: preflight reports it", undefined, "zstd", IN_SYNC],
    ["missing", { "@immich": null }, "zstd", "subvolume @immich is missing on MEDIAS"],
    ["property cleared", { "@immich": { compression: null } }, "zstd", "compression property of @immich is unset, expected zstd"],
    ["other algorithm", { "@immich": { compression: "lzo" } }, "zstd:3", "compression property of @immich is lzo, expected zstd"],
  ])("%s", (_name, subvolumes, compression, expected) => {
    const facts = readyHost();
    facts.medias.subvolumes = subvolumes;
    expect(subvolumeDrift(facts, "@immich", compression)).toBe(expected);
  });

  test("a subvolume the look did not report is treated as not looked at", () => {
    expect(subvolumeDrift(readyHost(), "@other", "zstd")).toBe(IN_SYNC);
  });
});

describe("moduleFileDrift", () => {
  const path = "modules/generated/skylab-immich/immich.nix";
  test.each<[string, Record<string, string | null> | undefined, string]>([
    ["identical", { [path]: "a".repeat(64) }, IN_SYNC],
    ["repo not readable", undefined, IN_SYNC],
    ["deleted", { [path]: null }, `${path} was deleted on the host`],
    ["edited", { [path]: "b".repeat(64) }, `${path} was edited on the host`],
  ])("%s", (_name, files, expected) => {
    const facts = readyHost();
    facts.repo.files = files;
    expect(moduleFileDrift(facts, path, "a".repeat(64))).toBe(expected);
  });
});

describe("sopsKeyDrift", () => {
  test.each<[string, Record<string, boolean> | undefined, string]>([
    ["present", { "immich/db_password": true }, IN_SYNC],
    ["sops file not readable", undefined, IN_SYNC],
    ["missing (e.g. after a rollback of the repo)", { "immich/db_password": false }, "immich/db_password is missing from secrets/secrets.yaml"],
  ])("%s", (_name, sopsKeys, expected) => {
    const facts = readyHost();
    facts.repo.sopsKeys = sopsKeys;
    expect(sopsKeyDrift(facts, "secrets/secrets.yaml", "immich/db_password")).toBe(expected);
  });
});

describe("mountsDrift", () => {
  const expected: ExpectedMount[] = [
    { mountPoint: "/var/lib/immich", options: ["subvol=@immich", "compress=zstd", "noatime"] },
    { mountPoint: "/media/immich", options: ["bind", "ro"] },
  ];

  test("every mount as declared: in-sync", () => {
    expect(mountsDrift(readyHost(), expected)).toBe(IN_SYNC);
  });

  test("every verdict of a mount that does not match, in declaration order, joined with '; '", () => {
    const facts = readyHost();
    facts.mounts["/var/lib/immich"] = { source: null, matches: false, verdict: "/var/lib/immich is not mounted" };
    facts.mounts["/media/immich"] = { ...facts.mounts["/media/immich"], options: "rw,relatime", matches: false, verdict: "/media/immich is mounted without ro (live options: rw,relatime)" };
    expect(mountsDrift(facts, expected)).toBe(
      "/var/lib/immich is not mounted; /media/immich is mounted without ro (live options: rw,relatime)",
    );
  });

  test("a mount the look did not report is not drift", () => {
    const facts = readyHost();
    delete facts.mounts["/media/immich"];
    expect(mountsDrift(facts, expected)).toBe(IN_SYNC);
  });
});

describe("preflightProblems", () => {
  const input: PreflightInput = {
    mediasLabel: "MEDIAS",
    configRepo: "/etc/nixos",
    importPath: "modules/generated/skylab-immich",
    requiredTools: ["btrfs", "rsync"],
    host: "192.168.1.20",
    folders: [{ path: "/home/zipang/Pictures/Digicma", key: "pictures.source" }, { path: "/srv/ok", key: "other" }],
  };

  test("a ready host has no problems", () => {
    expect(preflightProblems(readyHost(), input)).toStrictEqual([]);
  });

  test.each<[string, (facts: HostFacts) => void, string[]]>([
    [
      "no filesystem with the label",
      (f) => { f.medias.device = null; },
      ["no filesystem labelled MEDIAS on 192.168.1.20: plug in the drive, or set `storage.mediasLabel` to the label `btrfs filesystem show` prints"],
    ],
    [
      "the Pictures folder is not there",
      (f) => { f.folders = { "/home/zipang/Pictures/Digicma": false, "/srv/ok": true }; },
      ['`pictures.source` is "/home/zipang/Pictures/Digicma", which is not a folder on 192.168.1.20: set it to the folder to show ' +
        "(e.g. the plan's /home/zipang/Pictures/Digicam)"],
    ],
    [
      "sops older than 3.11 (no `sops set --value-stdin`)",
      (f) => { f.tools.sops = "sops 3.8.1"; },
      ["`sops` on 192.168.1.20 is 3.8.1: skylab-immich needs 3.11.0 or later (`sops set --value-stdin` keeps secrets out of " +
        "command lines): update the host's nixpkgs, or put a newer sops in environment.systemPackages"],
    ],
    [
      "sops 3.11.0, the first with --value-stdin, and a version sops does not print are fine",
      (f) => { f.tools.sops = "sops 3.11.0 (latest)"; f.tools.rsync = "rsync  version 3.2.7"; },
      [],
    ],
    [
      "the label is on another filesystem type",
      (f) => { f.medias.fstype = "ext4"; },
      ["the filesystem labelled MEDIAS (/dev/sdb1) is ext4, not btrfs"],
    ],
    [
      "a tool is missing",
      (f) => { f.tools.rsync = null; },
      ["`rsync` is not installed on 192.168.1.20: add it to environment.systemPackages"],
    ],
    [
      "a tool absent from the report counts as missing",
      (f) => { delete f.tools.btrfs; },
      ["`btrfs` is not installed on 192.168.1.20: add it to environment.systemPackages"],
    ],
    [
      "the config repo is not a git repository",
      (f) => { f.repo = { isGit: false }; },
      ["/etc/nixos on 192.168.1.20 is not a git repository: set `nixos.configRepo` to your NixOS configuration checkout"],
    ],
    [
      "the generated folder is not imported",
      (f) => { f.repo.importsGenerated = false; },
      [
        "/etc/nixos does not import the generated modules: add `./modules/generated/skylab-immich` to the `imports` " +
          "of configuration.nix (or your flake's module list), commit it, and run again",
      ],
    ],
    [
      "uncommitted changes outside the owned files",
      (f) => { f.repo.foreignChanges = [" M configuration.nix", "?? notes.txt"]; },
      [
        "/etc/nixos has uncommitted changes outside the files skylab-immich owns:\n" +
          "       M configuration.nix\n      ?? notes.txt\n" +
          "    commit or stash them first (an apply commits, and a rollback returns the repo to its previous commit: it must not take your work with it)",
      ],
    ],
    [
      "not enough space for the migration",
      (f) => { f.migration = { done: false, sourceBytes: 2_000_000 }; },
      ["not enough space on MEDIAS for the migration: 2000000 bytes to copy, 1000000 free"],
    ],
    [
      "several problems at once, in order",
      (f) => { f.medias.device = null; f.tools.btrfs = null; f.repo.importsGenerated = false; },
      [
        "no filesystem labelled MEDIAS on 192.168.1.20: plug in the drive, or set `storage.mediasLabel` to the label `btrfs filesystem show` prints",
        "`btrfs` is not installed on 192.168.1.20: add it to environment.systemPackages",
        "/etc/nixos does not import the generated modules: add `./modules/generated/skylab-immich` to the `imports` " +
          "of configuration.nix (or your flake's module list), commit it, and run again",
      ],
    ],
  ])("%s", (_name, change, expected) => {
    const facts = readyHost();
    change(facts);
    expect(preflightProblems(facts, input)).toStrictEqual(expected);
  });

  test.each<[string, (facts: HostFacts) => void]>([
    ["the migration already done does not need space", (f) => { f.migration = { done: true, sourceBytes: 2_000_000 }; }],
    ["exactly enough space", (f) => { f.migration = { done: false, sourceBytes: 1_000_000 }; }],
    ["nothing to migrate", (f) => { f.migration = { done: false, sourceBytes: null }; }],
    ["free space unknown", (f) => { f.migration = { done: false, sourceBytes: 2_000_000 }; delete f.medias.freeBytes; }],
    ["unknown import state is not a problem", (f) => { delete f.repo.importsGenerated; }],
    ["no foreign changes", (f) => { f.repo.foreignChanges = []; }],
  ])("no problem: %s", (_name, change) => {
    const facts = readyHost();
    change(facts);
    expect(preflightProblems(facts, input)).toStrictEqual([]);
  });
});

describe("migrationDrift", () => {
  test.each<[string, HostFacts["migration"], string]>([
    ["migrated: the marker is there", { done: true, sourceBytes: null }, IN_SYNC],
    ["nothing at the source", { done: false, sourceBytes: null }, IN_SYNC],
    ["an empty source", { done: false, sourceBytes: 0 }, IN_SYNC],
    [
      "data back at the source without the marker (a rollback)",
      { done: false, sourceBytes: 4096 },
      "the data at /var/lib/immich is not on @immich (a rollback put it back): it is copied again",
    ],
  ])("%s", (_name, migration, expected) => {
    const facts = readyHost();
    facts.migration = migration;
    expect(migrationDrift(facts, "/var/lib/immich", "@immich")).toBe(expected);
  });
});

describe("unitsDrift, joinDrift", () => {
  test("a unit the configuration runs that is not active is drift, with its state; an unreported one is not", () => {
    const facts = readyHost();
    facts.units = { "immich-server.service": "inactive", "nginx.service": "failed", "postgresql.service": "active" };
    expect(unitsDrift(facts, ["postgresql.service", "immich-server.service", "nginx.service", "unknown.service"])).toBe(
      "immich-server.service is inactive (the configuration runs it); nginx.service is failed (the configuration runs it)",
    );
    facts.units = { "immich-server.service": "active" };
    expect(unitsDrift(facts, ["immich-server.service"])).toBe(IN_SYNC);
  });

  test("joinDrift: the reasons that are not in sync, in order", () => {
    expect(joinDrift(IN_SYNC, IN_SYNC)).toBe(IN_SYNC);
    expect(joinDrift("a", IN_SYNC, "b")).toBe("a; b");
  });
});
