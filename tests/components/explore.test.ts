import * as pulumi from "@pulumi/pulumi";
import { installMocks, REMOTE_SCRIPT, CONNECTION_PLAIN } from "./mocks";
const rec = installMocks(["skylab:storage:BtrfsSubvolume", REMOTE_SCRIPT]);
import { BtrfsSubvolume } from "../../components/BtrfsSubvolume";
test("x", async () => {
  new BtrfsSubvolume("s", { connection: { ...CONNECTION_PLAIN, privateKey: pulumi.secret("KEY") }, mediasLabel: "MEDIAS", subvolume: "@immich", compression: "zstd", allowDataLoss: false, drift: "gone" });
  const r = await rec.settle();
  console.log(JSON.stringify(r, (k, v) => (typeof v === "string" && v.length > 200 ? v.slice(0, 60) + "..." : v), 1));
});
