/**
 * The stand-in Immich API (sandbox/immich-standin): NOT Immich. These tests prove it enforces Immich's published
 * contract (sandbox/immich-standin/contract.json, written from contract.ts and checked against @immich/sdk), answers like Immich's
 * server (status codes and messages), and keeps state like it (validation as Immich's user, scans that take
 * time and find the sandbox's image files, statistics), reached the way the program reaches it: SSH tunnel.
 */
import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { readConnection, sandboxDown, sandboxSsh, sandboxUp } from "../../sandbox";
import { mutatingRequests, standinRequests, startImmichStandin, stopImmichStandin } from "../../sandbox/immich-standin";
import { openTunnel, Tunnel } from "../../lib/remote/tunnel";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Contract, globToRegExp } = require("../../sandbox/immich-standin/server.js");

const SANDBOX = "isi1";
const API_KEY = "standin-test-key-5c1e";
let tunnel: Tunnel;
let pid = 0;

async function call(method: string, apiPath: string, options: { body?: unknown; key?: string | null; raw?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.key !== null) headers["x-api-key"] = options.key ?? API_KEY;
  if (options.body !== undefined || options.raw !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${tunnel.baseUrl}${apiPath}`, {
    method, headers, body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function ssh(command: string): Promise<string> {
  const result = await sandboxSsh(SANDBOX, command);
  if (result.code !== 0) throw new Error(`${command}: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  const conn = await sandboxUp(SANDBOX);
  // What NixosApply realizes on SKYLAB: the pictures, read-only, where Immich can see them.
  await ssh("mkdir -p /media/immich && mount --bind -o ro /home/zipang/Pictures/Digicam /media/immich");
  pid = await startImmichStandin(SANDBOX, { apiKey: API_KEY, msPerFile: 200 });
  tunnel = await openTunnel({
    host: conn.address, port: conn.port, user: "root", hostKey: conn.hostPublicKey, privateKey: readFileSync(conn.privateKeyPath, "utf8"), become: "none",
  }, "127.0.0.1", 2283);
});

afterAll(async () => {
  tunnel?.close();
  await sandboxDown(SANDBOX);
});

describe("the stand-in process", () => {
  test("runs inside the sandbox's network namespace, started by start.sh with the key on stdin only", () => {
    expect(execFileSync("ip", ["netns", "identify", String(pid)], { encoding: "utf8" }).trim()).toBe(`skylab-${SANDBOX}`);
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    expect(args).toContain("server.js");
    expect(args).not.toContain(API_KEY);
    // Only the key's sha256 is on disk, as Immich stores keys.
    const config = readFileSync(path.join(readConnection(SANDBOX).stateDir, "upper", "etc", "immich-standin", "config.json"), "utf8");
    expect(config).not.toContain(API_KEY);
    expect(config).toContain(require("crypto").createHash("sha256").update(API_KEY).digest("hex"));
  });
});

describe("contract: requests are checked against the published spec and rejected as Immich does", () => {
  test("ping needs no key", async () => {
    expect(await call("GET", "/server/ping", { key: null })).toStrictEqual({ status: 200, body: { res: "pong" } });
  });

  test("no API key: 401 Authentication required; a wrong one: 401 Invalid API key", async () => {
    expect(await call("GET", "/libraries", { key: null })).toStrictEqual({
      status: 401, body: { message: "Authentication required", error: "Unauthorized", statusCode: 401 },
    });
    expect((await call("GET", "/libraries", { key: "wrong" })).body.message).toBe("Invalid API key");
  });

  test("unknown path, and a known path with a method the spec does not have: 404", async () => {
    expect(await call("GET", "/albums")).toStrictEqual({ status: 404, body: { message: "Cannot GET /api/albums", error: "Not Found", statusCode: 404 } });
    expect((await call("PATCH", "/libraries")).status).toBe(404);
  });

  test("a body missing a required field: 400 with class-validator's message", async () => {
    expect(await call("POST", "/libraries", { body: { name: "No owner" } })).toStrictEqual({
      status: 400, body: { message: ["ownerId must be a UUID"], error: "Bad Request", statusCode: 400 },
    });
  });

  test("wrong types, a path parameter that is not a UUID, and malformed JSON: 400", async () => {
    const me = (await call("GET", "/users/me")).body;
    expect((await call("POST", "/libraries", { body: { ownerId: me.id, importPaths: "/media/immich" } })).body.message).toStrictEqual(["importPaths must be an array"]);
    expect((await call("POST", "/libraries", { body: { ownerId: me.id, exclusionPatterns: [1] } })).body.message).toStrictEqual(["each value in exclusionPatterns must be a string"]);
    expect((await call("GET", "/libraries/not-a-uuid")).body.message).toStrictEqual(["id must be a UUID"]);
    expect((await call("POST", "/libraries", { raw: "{\"ownerId\":" })).status).toBe(400);
  });

  test("scan: no body, as @immich/sdk sends it (the contract's body is optional), but a body is still checked", async () => {
    const me = (await call("GET", "/users/me")).body;
    const created = (await call("POST", "/libraries", { body: { ownerId: me.id, name: "Scan contract", importPaths: [] } })).body;
    expect((await call("POST", `/libraries/${created.id}/scan`)).status).toBe(204);
    expect((await call("POST", `/libraries/${created.id}/scan`, { body: { refreshAllFiles: "yes" } })).body.message).toStrictEqual(["refreshAllFiles must be a boolean value"]);
    expect((await call("DELETE", `/libraries/${created.id}`)).status).toBe(204);
    expect((await call("GET", `/libraries/${created.id}`)).body.message).toBe("Library not found");
  });

  test("properties the DTO does not declare are dropped (Immich's whitelist) and named in the request log", async () => {
    const me = (await call("GET", "/users/me")).body;
    const created = await call("POST", "/libraries", { body: { ownerId: me.id, name: "Extra", isVisible: true } });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty("isVisible");
    expect(standinRequests(SANDBOX).filter((r) => r.stripped?.includes("isVisible"))).toHaveLength(1);
    await call("DELETE", `/libraries/${created.body.id}`);
  });
});

describe("validate: Immich's messages for the paths Immich's user can and cannot see", () => {
  let id = "";
  beforeAll(async () => {
    const me = (await call("GET", "/users/me")).body;
    id = (await call("POST", "/libraries", { body: { ownerId: me.id, name: "Validation", importPaths: [] } })).body.id;
    await ssh("install -d -m 0700 /srv/private && touch /srv/a-file");
  });

  test.each<[string, { isValid: boolean; message?: string }]>([
    ["/media/immich", { isValid: true }],
    // ProtectHome=true: systemd puts an inaccessible directory over /home, so stat fails with EACCES.
    ["/home/zipang/Pictures/Digicam", { isValid: false, message: "Error: EACCES: permission denied, stat '/home/zipang/Pictures/Digicam'" }],
    ["/srv/private", { isValid: false, message: "Lacking read permission for folder" }],
    ["/srv/none", { isValid: false, message: "Path does not exist (ENOENT)" }],
    ["/srv/a-file", { isValid: false, message: "Not a directory" }],
    ["/var/lib/immich/library", { isValid: false, message: "Cannot use media upload folder for external libraries" }],
  ])("%s", async (importPath, expected) => {
    const result = await call("POST", `/libraries/${id}/validate`, { body: { importPaths: [importPath] } });
    expect(result).toStrictEqual({ status: 200, body: { importPaths: [{ importPath, ...expected }] } });
  });

  test("an update with an invalid path is refused with Immich's message and saves nothing", async () => {
    const result = await call("PUT", `/libraries/${id}`, { body: { importPaths: ["/home/zipang/Pictures/Digicam"], name: "Renamed" } });
    expect(result.body).toStrictEqual({
      message: "Invalid import path: Error: EACCES: permission denied, stat '/home/zipang/Pictures/Digicam'", error: "Bad Request", statusCode: 400,
    });
    expect((await call("GET", `/libraries/${id}`)).body).toMatchObject({ name: "Validation", importPaths: [] });
  });
});

describe("state: a scan takes time and finds the sandbox's image files, honouring exclusion patterns", () => {
  test("5 sample PNGs found; hidden files and @eaDir excluded; queue busy, then idle; statistics agree", async () => {
    const source = "/home/zipang/Pictures/Digicam";
    await ssh(`cp ${source}/IMG_0001.png ${source}/.hidden.png && mkdir -p ${source}/@eaDir && cp ${source}/IMG_0001.png ${source}/@eaDir/thumb.png && echo notes > ${source}/notes.txt`);
    const me = (await call("GET", "/users/me")).body;
    const library = (await call("POST", "/libraries", {
      body: { ownerId: me.id, name: "Digicam", importPaths: ["/media/immich"], exclusionPatterns: ["**/@eaDir/**", "**/.*"] },
    })).body;
    expect((await call("POST", `/libraries/${library.id}/scan`)).status).toBe(204);
    expect((await call("GET", "/jobs")).body.library.jobCounts.waiting + (await call("GET", "/jobs")).body.library.jobCounts.active).toBeGreaterThan(0);
    let idle = false;
    for (let i = 0; i < 200 && !idle; i++) {
      const q = (await call("GET", "/jobs")).body.library;
      idle = !q.queueStatus.isActive && q.jobCounts.active + q.jobCounts.waiting === 0;
      if (!idle) await new Promise((r) => setTimeout(r, 100));
    }
    expect(idle).toBe(true);
    const stats = (await call("GET", `/libraries/${library.id}/statistics`)).body;
    expect(stats).toMatchObject({ photos: 5, videos: 0, total: 5 });
    expect(stats.usage).toBeGreaterThan(0);
    expect((await call("GET", `/libraries/${library.id}`)).body.assetCount).toBe(5);
    expect((await call("GET", "/assets/statistics")).body).toStrictEqual({ images: 5, videos: 0, total: 5 });

    // Without the exclusions, the hidden file and the Synology thumbnail count too.
    await call("PUT", `/libraries/${library.id}`, { body: { exclusionPatterns: [] } });
    await call("POST", `/libraries/${library.id}/scan`);
    // The scan takes a while (400 ms start-up, 200 ms per file): wait for the queue to drain, bounded.
    let total = 0;
    for (let i = 0; i < 200 && total !== 7; i++) {
      const q = (await call("GET", "/jobs")).body.library;
      if (!q.queueStatus.isActive && q.jobCounts.active + q.jobCounts.waiting === 0) total = (await call("GET", `/libraries/${library.id}/statistics`)).body.total;
      if (total !== 7) await new Promise((r) => setTimeout(r, 100));
    }
    expect(total).toBe(7);
  });
});

describe("the request log", () => {
  test("records method, path and status of every request, and the stand-in's answers all matched the spec", () => {
    const requests = standinRequests(SANDBOX);
    expect(requests.length).toBeGreaterThan(20);
    for (const r of requests) expect(Object.keys(r)).toEqual(expect.arrayContaining(["time", "method", "path", "status"]));
    expect(requests.filter((r) => r.responseErrors)).toStrictEqual([]);
    // mutatingRequests keeps exactly the writes (this suite sent each kind) and leaves out exactly the reads.
    const mutating = mutatingRequests(requests);
    expect(new Set(mutating.map((r) => r.method))).toStrictEqual(new Set(["POST", "PUT", "DELETE", "PATCH"]));
    expect(new Set(requests.filter((r) => !mutating.includes(r)).map((r) => r.method))).toStrictEqual(new Set(["GET"]));
    expect(requests.some((r) => r.method === "GET" && r.path === "/api/albums" && r.status === 404)).toBe(true);
  });
});

describe("stop", () => {
  test("ends the process by its PID and is safe to run twice", async () => {
    await stopImmichStandin(SANDBOX);
    expect(() => process.kill(pid, 0)).toThrow();
    await stopImmichStandin(SANDBOX);
  });
});

describe("the contract checker itself (pure)", () => {
  // What the stand-in reads inside the sandbox (tests/sandbox/immich-contract.test.ts: it is what contract.ts exports).
  const spec = JSON.parse(readFileSync(path.resolve(__dirname, "../../sandbox/immich-standin/contract.json"), "utf8"));
  const contract = new Contract(spec);
  test.each<[string, string, string, unknown, string[]]>([
    ["create without owner", "POST", "/api/libraries", {}, ["ownerId must be a UUID"]],
    ["create with a bad owner", "POST", "/api/libraries", { ownerId: "x" }, ["ownerId must be a UUID"]],
    ["update with a number as name", "PUT", "/api/libraries/6c0f0f55-1d4c-4b8e-9a53-7d1f7b0c2e11", { name: 3 }, ["name must be a string"]],
    // Queue commands as @immich/sdk 3.2.2 has them (runQueueCommandLegacy): `force` optional, the queue named `name`.
    ["job command without force", "PUT", "/api/jobs/library", { command: "start" }, []],
    ["job command with a force that is not a boolean", "PUT", "/api/jobs/library", { command: "start", force: "yes" }, ["force must be a boolean value"]],
    ["job command without command", "PUT", "/api/jobs/library", { force: true }, ["command must be one of the following values: start, pause, resume, empty, clear-failed"]],
    ["job command unknown", "PUT", "/api/jobs/library", { command: "go", force: false }, ["command must be one of the following values: start, pause, resume, empty, clear-failed"]],
    ["unknown job name", "PUT", "/api/jobs/nope", { command: "start", force: false }, ["name must be one of the following values: thumbnailGeneration, metadataExtraction, videoConversion, faceDetection, facialRecognition, smartSearch, duplicateDetection, backgroundTask, storageTemplateMigration, migration, search, sidecar, library, notifications, backupDatabase, ocr, workflow, integrityCheck, editor"]],
    ["valid validate body", "POST", "/api/libraries/6c0f0f55-1d4c-4b8e-9a53-7d1f7b0c2e11/validate", { importPaths: ["/media/immich"] }, []],
  ])("%s", (_name, method, url, body, expected) => {
    const match = contract.match(method, url);
    expect(match.found).toBe("operation");
    expect(contract.check(match, new URLSearchParams(), body, true).errors).toStrictEqual(expected);
  });

  test.each<[string, string, boolean]>([
    ["**/@eaDir/**", "/media/immich/@eaDir/x.png", true],
    ["**/@eaDir/**", "/media/immich/a/@eaDir/b/x.png", true],
    ["**/.*", "/media/immich/.hidden.png", true],
    ["**/.*", "/media/immich/IMG_0001.png", false],
    ["**/._*", "/media/immich/._IMG.png", true],
    ["**/*.{tmp,part}", "/media/immich/a.part", true],
  ])("glob %s against %s: %s", (glob, file, expected) => {
    expect(globToRegExp(glob).test(file)).toBe(expected);
  });
});
