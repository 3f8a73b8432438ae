import * as pulumi from "@pulumi/pulumi";
import { connectionInput, installMocks, RECORDED_CONNECTION, REMOTE_SCRIPT, script, urnOf, valueOf } from "./mocks";
import { DataMigration } from "../../components/DataMigration";

const TYPE = "skylab:storage:DataMigration";
const mocks = installMocks([TYPE, REMOTE_SCRIPT], (type, name, inputs) =>
  type === REMOTE_SCRIPT ? { ...inputs, stdout: `copied and verified (${name})` } : inputs,
);

beforeEach(() => mocks.reset());

describe("DataMigration", () => {
  test("one RemoteScript child that migrates on create and restores on delete, with exact values", async () => {
    const migration = new DataMigration("move", {
      connection: connectionInput(),
      mediasLabel: "MEDIAS",
      subvolume: "@immich",
      source: "/var/lib/immich",
      keepAt: "/var/lib/immich.pre-skylab-immich",
      units: ["immich-server.service", "immich-machine-learning.service"],
    });
    const resources = await mocks.settle();

    expect(resources.map((r) => [r.type, r.name, r.urn, r.parent])).toStrictEqual([
      [TYPE, "move", urnOf(TYPE, "move"), ""],
      [REMOTE_SCRIPT, "move-migration", urnOf(REMOTE_SCRIPT, "move-migration", TYPE), urnOf(TYPE, "move")],
    ]);
    expect(mocks.byName("move").inputs).toStrictEqual({
      connection: RECORDED_CONNECTION,
      mediasLabel: "MEDIAS",
      subvolume: "@immich",
      source: "/var/lib/immich",
      keepAt: "/var/lib/immich.pre-skylab-immich",
      units: ["immich-server.service", "immich-machine-learning.service"],
    });
    expect(mocks.byName("move-migration").inputs).toStrictEqual({
      connection: RECORDED_CONNECTION,
      description: "migration of /var/lib/immich to @immich",
      create: script("migrate-data.sh"),
      delete: script("migrate-data-restore.sh"),
      values: {
        MEDIAS_LABEL: "MEDIAS",
        SUBVOLUME: "@immich",
        SOURCE: "/var/lib/immich",
        KEEP_AT: "/var/lib/immich.pre-skylab-immich",
        STATE_DIR: "/var/lib/skylab-immich",
        UNITS: "immich-server.service immich-machine-learning.service",
      },
      drift: "in-sync",
      logOutput: true,
    });
    expect(await valueOf(migration.report)).toBe("copied and verified (move-migration)");
  });

  test("paths with spaces and quotes pass through unchanged; stateDir and units from outputs", async () => {
    new DataMigration("odd", {
      connection: connectionInput(),
      mediasLabel: "MEDIAS",
      subvolume: "@immich",
      source: "/srv/my \"photos\" $x",
      keepAt: "/srv/my \"photos\" $x.kept",
      units: pulumi.output(["a.service"]),
      stateDir: "/var/lib/state dir",
    });
    await mocks.settle();
    expect(mocks.byName("odd-migration").inputs.values).toStrictEqual({
      MEDIAS_LABEL: "MEDIAS",
      SUBVOLUME: "@immich",
      SOURCE: "/srv/my \"photos\" $x",
      KEEP_AT: "/srv/my \"photos\" $x.kept",
      STATE_DIR: "/var/lib/state dir",
      UNITS: "a.service",
    });
    expect(mocks.byName("odd-migration").inputs.description).toBe("migration of /srv/my \"photos\" $x to @immich");
  });
});
