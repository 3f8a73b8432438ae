import * as pulumi from "@pulumi/pulumi";
import { connectionInput, installMocks, RECORDED_CONNECTION, REMOTE_SCRIPT, script, urnOf, valueOf } from "./mocks";
import { BtrfsSubvolume } from "../../components/BtrfsSubvolume";

const TYPE = "skylab:storage:BtrfsSubvolume";
const mocks = installMocks([TYPE, REMOTE_SCRIPT], (type, name, inputs) =>
  type === REMOTE_SCRIPT ? { ...inputs, stdout: `report of ${name}` } : inputs,
);

beforeEach(() => mocks.reset());

describe("BtrfsSubvolume", () => {
  test("one RemoteScript child, its exact inputs, and drift kept out of the component's own inputs", async () => {
    const subvolume = new BtrfsSubvolume("data", {
      connection: connectionInput(),
      mediasLabel: "MEDIAS",
      subvolume: "@immich",
      compression: "zstd:3",
      allowDataLoss: false,
      drift: "subvolume @immich is missing on MEDIAS",
    });
    const resources = await mocks.settle();

    expect(resources.map((r) => [r.type, r.name, r.urn, r.parent])).toStrictEqual([
      [TYPE, "data", urnOf(TYPE, "data"), ""],
      [REMOTE_SCRIPT, "data-subvolume", urnOf(REMOTE_SCRIPT, "data-subvolume", TYPE), urnOf(TYPE, "data")],
    ]);
    expect(mocks.byName("data").inputs).toStrictEqual({
      connection: RECORDED_CONNECTION,
      mediasLabel: "MEDIAS",
      subvolume: "@immich",
      compression: "zstd:3",
      allowDataLoss: false,
    });
    expect(mocks.byName("data-subvolume").inputs).toStrictEqual({
      connection: RECORDED_CONNECTION,
      description: "btrfs subvolume @immich on MEDIAS",
      create: script("btrfs-subvolume.sh"),
      delete: script("btrfs-subvolume-delete.sh"),
      values: { MEDIAS_LABEL: "MEDIAS", SUBVOLUME: "@immich", COMPRESSION: "zstd:3", ALLOW_DATA_LOSS: "false", SNAPSHOTS_FOLDER: "" },
      drift: "subvolume @immich is missing on MEDIAS",
      logOutput: true,
    });
    expect(await valueOf(subvolume.subvolume)).toBe("@immich");
    expect(await valueOf(subvolume.report)).toBe("report of data-subvolume");
  });

  test("allowDataLoss from an output reaches the delete script as \"true\", with the snapshots folder; no drift given means in-sync", async () => {
    new BtrfsSubvolume("risky", {
      connection: connectionInput(),
      mediasLabel: pulumi.output("DATA"),
      subvolume: "@photos",
      compression: "lzo",
      allowDataLoss: pulumi.output(true),
      snapshotsFolder: "@photos-snapshots",
    });
    await mocks.settle();
    const child = mocks.byName("risky-subvolume");
    expect(child.inputs.values).toStrictEqual({
      MEDIAS_LABEL: "DATA", SUBVOLUME: "@photos", COMPRESSION: "lzo", ALLOW_DATA_LOSS: "true", SNAPSHOTS_FOLDER: "@photos-snapshots",
    });
    expect(child.inputs.description).toBe("btrfs subvolume @photos on DATA");
    expect(child.inputs.drift).toBe("in-sync");
  });
});
