/**
 * `pulumi refresh` reads the host: after a converged up, a generated module edited by hand is recorded by
 * refresh as its module file's update (the observation in the state), the next preview shows the repair,
 * up repairs, the preview after it shows no changes, and a refresh after the repair records nothing new.
 * Nothing secret reaches the state through the read: not the private key, not the database password.
 */
import { createHash } from "crypto";
import { readFileSync } from "fs";
import { readConnection } from "../../sandbox";
import type { PulumiResult } from "../../sandbox/stack";
import { expectNoChanges, expectSuccess, Target } from "./helpers";

const target = new Target("refr1");
const GENERATED = "/etc/nixos/modules/generated/skylab-immich";
const RELPATH = "modules/generated/skylab-immich/nginx.nix";
const POISON = "Rf7-poison'\"$HOME`id`-2c9d4e";
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

interface StateResource { urn: string; outputs?: Record<string, any> }

async function stateResource(name: string): Promise<StateResource> {
  const exported = await target.pulumi(["stack", "export"]);
  expectSuccess(exported);
  const resources = (JSON.parse(exported.stdout).deployment.resources ?? []) as StateResource[];
  const found = resources.filter((r) => r.urn.endsWith(`::${name}`));
  expect(found).toHaveLength(1);
  return found[0];
}

/** The resources a refresh reports as changed (progress lines without their timing). */
function refreshChanges(result: PulumiResult): string[] {
  const changed = result.output.split("\n").map((l) => l.trim().replace(/ \([\d.]+s\)$/, ""));
  return [...new Set(changed.filter((l) => /^[+~-]\s+\S+\s+\S+\s+(updated|deleted|created)$/.test(l)))];
}

/** A refresh that found the host as the state says: nothing updated or deleted. */
function expectNothingRecorded(result: PulumiResult): void {
  expectSuccess(result);
  expect(refreshChanges(result)).toStrictEqual([]);
  expect(result.output).toMatch(/Resources:\s*\n\s*\d+ unchanged/);
  expect(result.output).not.toMatch(/\d+ (updated|deleted)/);
}

beforeAll(async () => {
  await target.create({ dbPassword: POISON });
  expectSuccess(await target.up());
});

afterAll(async () => {
  await target.destroy();
});

test("a converged host: refresh changes nothing and the state records the file as up wrote it", async () => {
  expectNothingRecorded(await target.pulumi(["refresh", "--yes"]));
  const onHost = await target.ssh(`cat ${GENERATED}/nginx.nix`);
  const file = await stateResource("immich-vhost-module-file");
  expect(file.outputs!.observedFile).toStrictEqual({ sha256: sha256(onHost), path: RELPATH });
  expect(file.outputs!.drift).toBe("in-sync");
});

test("a module edited by hand: refresh records it, preview shows the repair, up repairs, then nothing changes", async () => {
  const written = await target.ssh(`cat ${GENERATED}/nginx.nix`);
  await target.ssh(`echo '# edited by hand' >> ${GENERATED}/nginx.nix`);
  const edited = `${written}# edited by hand\n`;

  const refresh = await target.pulumi(["refresh", "--yes"]);
  expectSuccess(refresh);
  // The module file, and nothing else, as updated: what refresh read differs from what up left.
  expect(refreshChanges(refresh)).toStrictEqual(["~  pulumi-nodejs:dynamic/skylab:RemoteScript immich-vhost-module-file updated"]);
  expect(refresh.output).toMatch(/Resources:\s*\n\s*~ 1 updated\n\s*\d+ unchanged/);
  const recorded = await stateResource("immich-vhost-module-file");
  expect(recorded.outputs!.observedFile).toStrictEqual({ sha256: sha256(edited), path: RELPATH, text: edited });
  const lines = written.split("\n").length;
  expect(recorded.outputs!.drift).toBe(`${RELPATH} was edited on the host; up puts back:\n@@ line ${lines}\n-# edited by hand`);

  const preview = await target.preview("--diff");
  expectSuccess(preview);
  expect(preview.output).toMatch(/\(update\)\s*\n\s*\[id=[^\]]*\]\s*\n\s*\[urn=[^\]]*::immich-vhost-module-file\]/);
  expect(preview.output).toContain(`${RELPATH} was edited on the host; up puts back:`);

  expectSuccess(await target.up());
  expect(await target.ssh(`cat ${GENERATED}/nginx.nix`)).toBe(written);
  expectNoChanges(await target.preview());

  expectNothingRecorded(await target.pulumi(["refresh", "--yes"]));
  const repaired = await stateResource("immich-vhost-module-file");
  expect(repaired.outputs!.observedFile).toStrictEqual({ sha256: sha256(written), path: RELPATH });
  expect(repaired.outputs!.drift).toBe("in-sync");
});

test("no secret in the state through read: neither the private key nor the db password, which --show-secrets finds", async () => {
  const key = readFileSync(readConnection(target.sandbox).privateKeyPath, "utf8");
  // A line of the key's body: the part that is the secret.
  const keyLine = key.split("\n").find((l) => l.length > 40 && !l.startsWith("-----"))!;
  expect(keyLine).toBeDefined();
  const exported = await target.pulumi(["stack", "export"]);
  const revealed = await target.pulumi(["stack", "export", "--show-secrets"]);
  expectSuccess(exported);
  expectSuccess(revealed);
  expect(revealed.stdout).toContain(keyLine);
  expect(revealed.stdout).toContain("Rf7-poison");
  expect(exported.stdout).not.toContain(keyLine);
  expect(exported.stdout).not.toContain("Rf7-poison");
});
