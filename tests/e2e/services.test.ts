/**
 * Services converge with the real engine: the sops secret, nginx vhost and Immich module, the apply step
 * with verification, its rollbacks under injected failures, the poison-secret search, and destroy.
 */
import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import { readConnection } from "../../sandbox";
import { ProcessSampler, Target, expectNoChanges, expectSuccess, hostState, shellWord } from "./helpers";

// Quotes, `$` and a backtick: it must reach sops intact and leak nowhere.
const POISON = "Pz9-poison'\"$HOME`id`-7f3a1c";
const target = new Target("svc1");
const extract = `SOPS_DISABLE_VERSION_CHECK=true SOPS_AGE_KEY_FILE=/var/lib/sops-nix/key.txt sops decrypt --extract '["immich"]["db_password"]' /etc/nixos/secrets/secrets.yaml`;
let secretsFileBefore = "";
let generationsBefore = 0;
const outputs: string[] = [];
let sampler: ProcessSampler | undefined;

const state = () => hostState(target);

async function record<T extends { output: string }>(run: Promise<T>): Promise<T> {
  const result = await run;
  outputs.push(result.output);
  return result;
}

beforeAll(async () => {
  await target.create({ dbPassword: POISON });
  secretsFileBefore = await target.ssh("sha256sum < /etc/nixos/secrets/secrets.yaml");
  generationsBefore = Number((await target.ssh("ls /nix/var/nix/profiles | grep -c '^system-.*-link$'")).trim());
  sampler = new ProcessSampler();
});

afterAll(async () => {
  sampler?.stop();
  await target.destroy();
});

test("up converges: the secret decrypts on the host, the modules evaluate, a generation is added, verification passes", async () => {
  expectSuccess(await record(target.up()));
  expect(await target.ssh(extract)).toBe(POISON);
  expect(await target.ssh("cat /run/secrets/immich/db_password")).toBe(POISON);
  expect(await target.ssh("stat -c '%U:%G %a' /run/secrets/immich/db_password")).toBe("immich:immich 400\n");
  expect(await target.ssh("cat /run/secrets/rendered/immich.env")).toBe(`DB_PASSWORD=${POISON}\n`);
  const files = (await target.ssh("ls /etc/nixos/modules/generated/skylab-immich")).trim().split("\n");
  expect(files).toEqual(["default.nix", "immich.nix", "nginx.nix", "secrets.nix", "storage-media-immich.nix", "storage-var-lib-immich.nix"]);
  for (const file of files) {
    await target.ssh(`nix-instantiate --parse /etc/nixos/modules/generated/skylab-immich/${file} >/dev/null`);
  }
  const generations = Number((await target.ssh("ls /nix/var/nix/profiles | grep -c '^system-.*-link$'")).trim());
  expect(generations).toBe(generationsBefore + 1);
  const report = JSON.parse((await target.pulumi(["stack", "output", "verification", "--json"])).stdout) as { check: string; target: string; status: string; detail: string }[];
  // Every check ran for real on the sandbox's systemd: units active, Immich answering directly and
  // through nginx with the vhost's Host header.
  expect(report.map((r) => `${r.check} ${r.status}`)).toEqual([
    "mount pass", "owner pass", "mount pass", "readable-by pass", "secret pass",
    "unit pass", "unit pass", "unit pass", "unit pass", "http pass", "unit pass", "http pass",
    // Last: the running system is the one the apply activated from its own commit.
    "system pass",
  ]);
  expect(report[11].target).toBe("http://127.0.0.1/api/server/ping");
  expect(report[11].detail).toMatch(/^answered pong/);
});

test("a second up changes nothing", async () => {
  expectNoChanges(await record(target.up()));
});

test("a failed activation is rolled back, and its error output carries no secret (the fault matrix covers the other faults)", async () => {
  const before = await state();
  await target.reconfigure({ dbPassword: POISON, config: { nginx: { clientMaxBodySize: "80000M" } } });
  await target.ssh("touch /etc/nixos-rebuild-standin/fail-next-activation");
  const failed = await record(target.up());
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain("activation failed (nixos-rebuild test exited 2); the host was restored");
  expect(await state()).toEqual(before);
  expectSuccess(await record(target.up()));
  expectNoChanges(await record(target.up()));
}, 300_000);

test("poison: the password is nowhere in the state export, the engine output, the command lines, or the host's files", async () => {
  const exported = (await target.pulumi(["stack", "export"])).stdout;
  const revealed = (await target.pulumi(["stack", "export", "--show-secrets"])).stdout;
  // Positive control: the same search finds it where the state holds it encrypted.
  expect(revealed).toContain("Pz9-poison");
  expect(exported).not.toContain("Pz9-poison");
  expect(outputs.length).toBeGreaterThanOrEqual(5);
  for (const output of outputs) expect(output).not.toContain("Pz9-poison");

  // Command lines: the sampler ran all along, and sees a process of our own carrying the marker.
  expect(sampler!.samples).toBeGreaterThan(100);
  expect(await sampler!.positiveControl("Pz9-poison-control")).toBe(true);
  const leaked = [...sampler!.lines].filter((l) => l.includes("Pz9-poison") && !l.includes("Pz9-poison-control"));
  expect(leaked).toEqual([]);

  // Files: everything the sandbox wrote to disk (its overlay's upper layer) and its /run.
  const upper = `${readConnection(target.sandbox).stateDir}`;
  const onDisk = execFileSync("bash", ["-c", `grep -rlF -- ${shellWord("Pz9-poison")} ${shellWord(upper)} || true`], { encoding: "utf8" }).trim();
  expect(onDisk).toBe("");
  await target.ssh("echo Pz9-poison > /root/planted");
  const control = execFileSync("bash", ["-c", `grep -rlF -- ${shellWord("Pz9-poison")} ${shellWord(upper)} || true`], { encoding: "utf8" }).trim();
  expect(control).toMatch(/\/root\/planted$/);
  await target.ssh("rm /root/planted");
  // In /run only the two files sops-nix renders for Immich hold it (that is their purpose), and the
  // credential systemd hands immich-db-password.service (root only, until the unit stops).
  const inRun = (await target.ssh(`grep -rlF -- ${shellWord("Pz9-poison")} /run 2>/dev/null | sort || true`)).trim().split("\n");
  expect(inRun).toEqual([
    "/run/credentials/immich-db-password.service/db_password", "/run/secrets/immich/db_password", "/run/secrets/rendered/immich.env",
  ]);
});

test("destroy leaves the host as before the first up, apart from kept data", async () => {
  expectSuccess(await target.pulumi(["destroy", "--yes"]));
  expect(await target.ssh("sha256sum < /etc/nixos/secrets/secrets.yaml")).toBe(secretsFileBefore);
  expect((await target.ssh(`${extract} >/dev/null 2>&1 && echo present || echo absent`)).trim()).toBe("absent");
  expect(await target.ssh("ls /run/secrets/immich 2>/dev/null | wc -l")).toBe("0\n");
  expect(readFileSync(readConnection(target.sandbox).sshdLog, "utf8")).toContain("Accepted publickey");
});
