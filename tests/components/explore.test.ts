import * as pulumi from "@pulumi/pulumi";
import { installMocks, REMOTE_SCRIPT, CONNECTION_PLAIN, NIX_MODULE_FILE } from "./mocks";
const rec = installMocks([REMOTE_SCRIPT, NIX_MODULE_FILE]);
import { NixModuleFile } from "../../components/NixModuleFile";
test("x", async () => {
  const args = { connection: { ...CONNECTION_PLAIN, privateKey: pulumi.secret("KEY") }, configRepo: "/etc/nixos", path: "gen/x.nix", generator: "G", body: { a: 1 }, drift: "d1" };
  new NixModuleFile("m", args);
  console.log(JSON.stringify(args.drift));
  const r = await rec.settle();
  console.log(JSON.stringify(r.map(x => [x.name, x.inputs.drift])));
});
