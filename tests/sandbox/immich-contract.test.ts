/**
 * The Immich contract the stand-in enforces (sandbox/immich-standin/contract.ts). No sandbox needed. Proves: the
 * committed contract.json (what server.js reads, where TypeScript cannot run) is what contract.ts exports; every
 * operation is on the path and method that @immich/sdk's function of that name calls (the schemas, arguments and
 * answers are checked at compile time by contract-vs-sdk.ts); the stand-in implements exactly these operations.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { contract, contractJson, REGENERATE_COMMAND } from "../../sandbox/immich-standin/contract";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Contract, DEFAULT_SPEC } = require("../../sandbox/immich-standin/server.js");

const standinDir = path.resolve(__dirname, "../../sandbox/immich-standin");

type Method = "get" | "post" | "put" | "delete";
const operations = Object.entries(contract.paths).flatMap(([template, byMethod]) =>
  Object.entries(byMethod as Partial<Record<Method, { operationId: string }>>).map(([method, op]) => ({ template, method: method.toUpperCase(), operationId: op!.operationId })));

test(`contract.json is what contract.ts exports (regenerate: ${REGENERATE_COMMAND})`, () => {
  const committed = readFileSync(path.join(standinDir, "contract.json"), "utf8");
  if (committed !== contractJson()) {
    throw new Error(`sandbox/immich-standin/contract.json is not what contract.ts exports: run \`${REGENERATE_COMMAND}\` and commit contract.json`);
  }
});

test("the stand-in reads contract.json beside server.js unless --spec says otherwise", () => {
  expect(DEFAULT_SPEC).toBe(path.join(standinDir, "contract.json"));
});

test("every $ref resolves, and server.js's checker finds each operation at its path", () => {
  const refs = [...contractJson().matchAll(/"\$ref": "#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
  expect(refs.filter((name) => !(name in contract.components.schemas))).toStrictEqual([]);
  // Every schema is reached from an operation (no leftovers).
  const reached = new Set(refs);
  expect(Object.keys(contract.components.schemas).filter((name) => !reached.has(name))).toStrictEqual([]);
  const checker = new Contract(JSON.parse(contractJson()));
  for (const { template, method, operationId } of operations) {
    const url = `/api${template.replace("{id}", "6c0f0f55-1d4c-4b8e-9a53-7d1f7b0c2e11").replace("{name}", "library")}`;
    expect([method, url, checker.match(method, url).operation?.operationId]).toStrictEqual([method, url, operationId]);
  }
});

/** Path template and method of each function in @immich/sdk's generated client (fetch-client.js). */
function sdkRoutes(): Map<string, { template: string; method: string }> {
  // The package's exports map hides its files from require.resolve; the installed copy is the pinned 3.2.2.
  const source = readFileSync(path.resolve(__dirname, "../../node_modules/@immich/sdk/build/fetch-client.js"), "utf8");
  const routes = new Map<string, { template: string; method: string }>();
  for (const chunk of source.split(/^export function /m).slice(1)) {
    const name = /^(\w+)\(/.exec(chunk)?.[1];
    const url = /oazapfts\.fetch(?:Json|Text|Blob)\(\s*(["`])(.*?)\1/s.exec(chunk)?.[2];
    if (!name || url === undefined) continue;
    const template = url.replace(/\$\{QS\.query\([\s\S]*$/, "").replace(/\$\{encodeURIComponent\((\w+)\)\}/g, "{$1}");
    routes.set(name, { template, method: /method: "(\w+)"/.exec(chunk)?.[1] ?? "GET" });
  }
  return routes;
}

test("each operation is on the path and method that @immich/sdk's function of the same name calls", () => {
  const routes = sdkRoutes();
  // The parser itself, on calls whose routes are known.
  expect(routes.get("getAllLibraries")).toStrictEqual({ template: "/libraries", method: "GET" });
  expect(routes.get("getAssetStatistics")).toStrictEqual({ template: "/assets/statistics", method: "GET" });
  for (const { template, method, operationId } of operations) {
    expect([operationId, routes.get(operationId)]).toStrictEqual([operationId, { template, method }]);
  }
});

test("the stand-in implements exactly the contract's operations (one handler each, none left over)", () => {
  const source = readFileSync(path.join(standinDir, "server.js"), "utf8");
  const handle = source.slice(source.indexOf("  handle(operationId, ctx) {"), source.indexOf("  // --- HTTP"));
  const handled = [...handle.matchAll(/^\s+case "(\w+)":/gm)].map((m) => m[1]).sort();
  expect(handled).toStrictEqual(operations.map((o) => o.operationId).sort());
});

test("the provider calls only SDK functions the contract has", () => {
  const source = readFileSync(path.resolve(__dirname, "../../providers/immichLibrary/api.ts"), "utf8");
  const called = [...new Set([...source.matchAll(/this\.sdk\.(\w+)\(/g)].map((m) => m[1]))].sort();
  expect(called.length).toBeGreaterThan(5);
  expect(called.filter((name) => !operations.some((o) => o.operationId === name))).toStrictEqual([]);
});
