// bench/run.ts scenario 7: how a no-op preview's cost grows with the work. `count` BindMount components
// (each one generated module, written by one RemoteScript) on a sandbox, with the program's own host look
// (one SSH connection that reads every module's digest and looks up every mount point) handing each its
// host digest, as index.ts does for its five modules. Built from the product's components, unchanged;
// only the number of them differs between the stacks n1, n5 and n20.
import * as pulumi from "@pulumi/pulumi";
import { BindMount } from "../../components/BindMount";
import { lookAtHost } from "../../lib/remote/hostFacts";

const config = new pulumi.Config();
const count = config.requireNumber("count");
const connection = {
  host: config.require("address"),
  port: config.requireNumber("port"),
  user: "root",
  hostKey: config.require("hostKey"),
  become: "none" as const,
};
const privateKey = config.requireSecret("privateKey");
const configRepo = config.require("configRepo");
const generatedDir = `modules/generated/skylab-bench-scaling-${count}`;
const mounts = Array.from({ length: count }, (_, i) => ({
  name: `bind-${i + 1}`,
  file: `${generatedDir}/bind-${i + 1}.nix`,
  source: `/srv/bench-scaling/${i + 1}`,
  mountPoint: `/media/bench-scaling-${count}-${i + 1}`,
}));

export = async () => {
  const facts = await lookAtHost({ ...connection, privateKey: await plain(privateKey) }, {
    mediasLabel: "MEDIAS", subvolumes: [], mounts: mounts.map((m) => ({ mountPoint: m.mountPoint, options: ["bind", "ro"] })), configRepo,
    files: mounts.map((m) => m.file), importPath: generatedDir, migrationSource: "/var/lib/immich",
    stateDir: "/var/lib/skylab-immich", sopsFile: "secrets/secrets.yaml", sopsKeys: [],
    ageKeyFile: "/var/lib/sops-nix/key.txt", ownedPaths: [generatedDir],
  });
  for (const m of mounts) {
    new BindMount(m.name, {
      connection: { ...connection, privateKey }, configRepo, modulePath: m.file, source: m.source, mountPoint: m.mountPoint,
      hostSha256: facts.repo.files?.[m.file] ?? null, hostText: facts.repo.fileTexts?.[m.file],
    });
  }
  return { modules: count };
};

function plain(value: pulumi.Output<string>): Promise<string> {
  return new Promise((resolve) => value.apply((v) => resolve(v)));
}
