/**
 * The Immich External Library with the real engine against a sandbox SKYLAB and the stand-in Immich API in it
 * (sandbox/immich-standin: not Immich; it enforces Immich's published contract). Proves: the first up creates
 * and scans; a second up makes no API call that changes anything; a changed exclusion pattern updates; an
 * invalid import path fails with Immich's message; the timing outputs are plausible; destroy keeps the library
 * unless asked, and a kept one is adopted, not duplicated; `pulumi refresh` records a hand change that the
 * next up repairs; the API key leaks nowhere (poison test).
 */
import { execFileSync, spawn } from "child_process";
import { readConnection } from "../../sandbox";
import { configureImmichStandin, mutatingRequests, standinRequests, StandinRequest } from "../../sandbox/immich-standin";
import { runPulumi } from "../../sandbox/stack";
import { ProcessSampler, Target, expectNoChanges, expectSuccess, shellWord } from "./helpers";

// Quotes, `$` and a backtick: it must reach Immich intact (the stand-in checks its hash) and leak nowhere.
const POISON = "Ik9-poison'\"$HOME`id`-3e8b71";
const target = new Target("lib1");
const outputs: string[] = [];
let sampler: ProcessSampler | undefined;

async function configure(library: Record<string, unknown>): Promise<void> {
  await target.reconfigure({ config: { library: { enabled: true, scanTimeoutSeconds: 120, ...library } } });
  await setApiKey();
}

async function setApiKey(): Promise<void> {
  const result = await runPulumi(["config", "set", "--secret", "--stack", target.stack, "immichApiKey"], { input: POISON });
  if (result.code !== 0) throw new Error(result.output);
}

async function record<T extends { output: string }>(run: Promise<T>): Promise<T> {
  const result = await run;
  outputs.push(result.output);
  return result;
}

/** Requests the stand-in received while `run` ran. */
async function during<T>(run: () => Promise<T>): Promise<{ result: T; requests: StandinRequest[] }> {
  const before = standinRequests(target.sandbox).length;
  const result = await run();
  return { result, requests: standinRequests(target.sandbox).slice(before) };
}

const calls = (requests: StandinRequest[]) => mutatingRequests(requests).map((r) => `${r.operationId} ${r.status}`);

async function stackOutput(name: string): Promise<unknown> {
  const result = await target.pulumi(["stack", "output", name, "--json"]);
  return JSON.parse(result.stdout);
}

/** A hand change of library `id`, done the way a user would: through the API, from inside SKYLAB. */
function changeInImmich(id: string, body: Record<string, unknown>): void {
  const conn = readConnection(target.sandbox);
  const script = `fetch("http://127.0.0.1:2283/api/libraries/${id}", { method: "PUT", headers: { "x-api-key": process.env.K, "content-type": "application/json" }, ` +
    `body: process.env.BODY }).then((r) => process.exit(r.ok ? 0 : 1))`;
  execFileSync("nsenter", ["--target", String(conn.pid), "--net", "--", "node", "-e", script], { env: { ...process.env, K: POISON, BODY: JSON.stringify(body) } });
}

/** The next preview shows the library's update, and up makes it through the API (an update, then a scan). */
async function expectRepairedByUp(): Promise<void> {
  const preview = await record(target.preview("--diff"));
  expect(preview.code).toBe(0);
  expect(preview.output).toContain("~ pulumi-nodejs:dynamic/skylab:ImmichLibrary: (update)");
  expect(preview.output).toContain("~ 1 to update");
  const { result, requests } = await during(() => record(target.up()));
  expectSuccess(result);
  expect(calls(requests)).toStrictEqual(["updateLibrary 200", "scanLibrary 204"]);
}

beforeAll(async () => {
  await target.create({ config: { library: { enabled: true, scanTimeoutSeconds: 120 } } });
  await setApiKey();
  // immich-server.service runs the stand-in once `up` declares it; it reads the key's hash configured here.
  await configureImmichStandin(target.sandbox, { apiKey: POISON, msPerFile: 300 });
  sampler = new ProcessSampler();
});

afterAll(async () => {
  sampler?.stop();
  await target.destroy();
});

test("first up creates the library through the API (validated before saving) and scans it; timing outputs are plausible", async () => {
  const { result, requests } = await during(() => record(target.up()));
  expectSuccess(result);
  expect(calls(requests)).toStrictEqual(["createLibrary 201", "validate 200", "updateLibrary 200", "scanLibrary 204"]);
  expect(requests.filter((r) => r.status >= 400 || r.stripped || r.responseErrors)).toStrictEqual([]);
  const pictures = Number((await target.ssh("find /home/zipang/Pictures/Digicam -type f -name '*.png' | wc -l")).trim());
  expect(pictures).toBe(5);
  const seconds = (await stackOutput("indexingSeconds")) as number;
  expect(await stackOutput("indexingAssetsFound")).toBe(pictures);
  // The stand-in takes 400 ms to start and 300 ms per file: at least 1.9 s, well under the timeout.
  expect(seconds).toBeGreaterThanOrEqual(1.9);
  expect(seconds).toBeLessThan(60);
  expect(await stackOutput("indexingAssetsPerSecond")).toBeCloseTo(pictures / seconds, 1);
  expect(await stackOutput("immichLibraryId")).toMatch(/^[0-9a-f-]{36}$/);
});

test("a second up changes nothing and makes no API call that could change anything", async () => {
  const { result, requests } = await during(() => record(target.up()));
  expectNoChanges(result);
  expect(mutatingRequests(requests)).toStrictEqual([]);
  // The diff looked (read-only) at Immich: that is how hand changes are noticed.
  expect(requests.map((r) => r.operationId)).toContain("getAllLibraries");
});

test("a changed exclusion pattern updates only that field, scans again, and the next up is quiet", async () => {
  await configure({ exclusionPatterns: ["**/@eaDir/**"] });
  const { result, requests } = await during(() => record(target.up()));
  expectSuccess(result);
  expect(calls(requests)).toStrictEqual(["updateLibrary 200", "scanLibrary 204"]);
  expect(await stackOutput("indexingAssetsFound")).toBe(5);
  const again = await during(() => record(target.up()));
  expectNoChanges(again.result);
  expect(mutatingRequests(again.requests)).toStrictEqual([]);
});

test("an invalid import path fails the update with Immich's own message, and nothing is saved", async () => {
  await configure({ exclusionPatterns: ["**/@eaDir/**"], importPaths: ["/home/zipang/Pictures/Digicam"] });
  const { result, requests } = await during(() => record(target.up()));
  expect(result.code).not.toBe(0);
  expect(result.output).toContain("/home/zipang/Pictures/Digicam: Error: EACCES: permission denied, stat '/home/zipang/Pictures/Digicam'");
  expect(result.output).toContain("ProtectHome=true: paths under /home are invisible to Immich");
  expect(calls(requests)).toStrictEqual(["validate 200"]);
  // Back to the valid path: Immich still has it, so nothing is written.
  await configure({ exclusionPatterns: ["**/@eaDir/**"] });
  const back = await during(() => record(target.up()));
  expectSuccess(back.result);
  expect(mutatingRequests(back.requests)).toStrictEqual([]);
});

test("a hand change in Immich shows in preview and is repaired by up", async () => {
  const id = (await stackOutput("immichLibraryId")) as string;
  changeInImmich(id, { exclusionPatterns: ["**/*.png"] });
  await expectRepairedByUp();
  expectNoChanges(await record(target.up()));
});

test("refresh records a library renamed in Immich; the next preview shows the repair, up makes it, a refresh after records nothing", async () => {
  const id = (await stackOutput("immichLibraryId")) as string;
  const libraryOutputs = async () => {
    const exported = await target.pulumi(["stack", "export"]);
    expectSuccess(exported);
    const found = (JSON.parse(exported.stdout).deployment.resources as Array<{ type: string; outputs?: Record<string, any> }>)
      .filter((r) => r.type === "pulumi-nodejs:dynamic/skylab:ImmichLibrary");
    expect(found).toHaveLength(1);
    return found[0].outputs!;
  };
  const stored = await libraryOutputs();
  expect(stored.name).toBe("Digicam");
  changeInImmich(id, { name: "Renamed by hand" });

  const refresh = await during(() => record(target.pulumi(["refresh", "--yes"])));
  expectSuccess(refresh.result);
  expect(refresh.result.output).toMatch(/~\s+pulumi-nodejs:dynamic\/skylab:ImmichLibrary\s+\S+\s+updated/);
  // The read only looks (GET): nothing in Immich changed.
  expect(mutatingRequests(refresh.requests)).toStrictEqual([]);
  const recorded = await libraryOutputs();
  expect(recorded.name).toBe("Renamed by hand");
  // Everything else as it was; the key and the connection still secrets (encrypted anew by the write).
  const { apiKey, connection, ...rest } = recorded;
  const { apiKey: storedKey, connection: storedConnection, ...storedRest } = stored;
  expect({ ...rest, name: stored.name }).toStrictEqual(storedRest);
  for (const secret of [apiKey, connection, storedKey, storedConnection]) expect(Object.keys(secret).sort()).toStrictEqual(["4dabf18193072939515e22adb298388d", "ciphertext"]);

  await expectRepairedByUp();
  expect((await libraryOutputs()).name).toBe("Digicam");
  const again = await during(() => record(target.pulumi(["refresh", "--yes"])));
  expectSuccess(again.result);
  expect(mutatingRequests(again.requests)).toStrictEqual([]);
  expect(again.result.output).not.toMatch(/ImmichLibrary\s+\S+\s+updated/);
  expect(again.result.output).toMatch(/Resources:\s*\n\s*\d+ unchanged/);
  expectNoChanges(await record(target.up()));
});

test("destroy keeps the library (deleteOnDestroy false); the next up adopts it by name instead of creating another", async () => {
  const id = await stackOutput("immichLibraryId");
  const destroyed = await during(() => record(target.pulumi(["destroy", "--yes"])));
  expectSuccess(destroyed.result);
  expect(mutatingRequests(destroyed.requests)).toStrictEqual([]);
  const { result, requests } = await during(() => record(target.up()));
  expectSuccess(result);
  expect(calls(requests).filter((c) => c.startsWith("createLibrary"))).toStrictEqual([]);
  expect(await stackOutput("immichLibraryId")).toBe(id);
  expectNoChanges(await record(target.up()));
});

test("with deleteOnDestroy, destroy deletes the library in Immich; a second destroy is a no-op", async () => {
  await configure({ exclusionPatterns: ["**/@eaDir/**"], deleteOnDestroy: true });
  const stored = await during(() => record(target.up()));
  expectSuccess(stored.result);
  expect(mutatingRequests(stored.requests)).toStrictEqual([]);
  const { result, requests } = await during(() => record(target.pulumi(["destroy", "--yes"])));
  expectSuccess(result);
  expect(calls(requests)).toStrictEqual(["deleteLibrary 204"]);
  expectSuccess(await record(target.pulumi(["destroy", "--yes"])));
});

test("poison: the API key is nowhere in the state export, the engine output, the command lines, or the sandbox's files", async () => {
  const exported = (await target.pulumi(["stack", "export"])).stdout;
  const revealed = (await target.pulumi(["stack", "export", "--show-secrets"])).stdout;
  // Up once more so that the state holds the library (and its key) for the export check.
  expectSuccess(await record(target.up()));
  const exportedAfterUp = (await target.pulumi(["stack", "export"])).stdout;
  const revealedAfterUp = (await target.pulumi(["stack", "export", "--show-secrets"])).stdout;
  // Positive control: the same search finds it where the state holds it encrypted.
  expect(revealedAfterUp).toContain("Ik9-poison");
  for (const text of [exported, exportedAfterUp]) expect(text).not.toContain("Ik9-poison");
  void revealed;
  expect(outputs.length).toBeGreaterThanOrEqual(12);
  for (const output of outputs) expect(output).not.toContain("Ik9-poison");

  // The sampler ran all along, and sees a process of our own carrying the marker.
  expect(sampler!.samples).toBeGreaterThan(100);
  expect(await sampler!.positiveControl("Ik9-poison-control")).toBe(true);
  expect([...sampler!.lines].filter((l) => l.includes("Ik9-poison") && !l.includes("Ik9-poison-control"))).toStrictEqual([]);

  const stateDir = readConnection(target.sandbox).stateDir;
  const grep = () => execFileSync("bash", ["-c", `grep -rlF -- ${shellWord("Ik9-poison")} ${shellWord(stateDir)} || true`], { encoding: "utf8" }).trim();
  expect(grep()).toBe("");
  await target.ssh("echo Ik9-poison > /root/planted");
  expect(grep()).toMatch(/\/root\/planted$/);
  await target.ssh("rm /root/planted");
  expect((await target.ssh(`grep -rlF -- ${shellWord("Ik9-poison")} /run /tmp 2>/dev/null || true`)).trim()).toBe("");
});
