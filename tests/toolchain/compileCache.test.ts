/**
 * toolchain/compile-cache.js: what the engine's processes load for the program's TypeScript. Proves that
 * what runs is always the current text (a changed module, a changed tsconfig or a tsconfig it extends,
 * each recompiled, even with the file's mtime put back), that unchanged files come from the cache
 * without the compiler, that a syntax error fails like ts-node's, and that the JavaScript is the same as
 * ts-node's transpile-only output for every module of the program.
 */
import { execFileSync, spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "..", "..");
const register = path.join(repoRoot, "toolchain", "register-compile-cache.js");
const cacheModule = path.join(repoRoot, "toolchain", "compile-cache.js");

let work: string;
let cache: string;
let project: string;

beforeEach(() => {
  work = mkdtempSync(path.join(tmpdir(), "skylab-compile-cache-"));
  cache = path.join(work, "cache");
  project = path.join(work, "project");
  mkdirSync(project);
  writeFileSync(path.join(project, "base.json"), JSON.stringify({ compilerOptions: { target: "ES2022", module: "commonjs", strict: true } }));
  writeFileSync(path.join(project, "tsconfig.json"), '// comments are allowed here, as in any tsconfig\n{ "extends": "./base.json", "compilerOptions": { "isolatedModules": true } }\n');
  writeFileSync(path.join(project, "message.ts"), 'export const message: string = "first";\n');
  // Prints what it imported, how `?.` was emitted (the target's effect), and the cache's counters.
  writeFileSync(path.join(project, "main.ts"), [
    'import { message } from "./message";',
    "const pick = (a?: { b: number }) => a?.b;",
    "const { stats } = require(process.env.HOOK_MODULE as string);",
    "console.log(JSON.stringify({ message, pick: pick.toString(), stats, compilerLoaded: Object.keys(require.cache).some((k) => k.endsWith('typescript.js')) }));",
    "",
  ].join("\n"));
});

afterEach(() => rmSync(work, { recursive: true, force: true }));

interface RunOutput {
  message: string;
  pick: string;
  stats: { hits: number; misses: number };
  compilerLoaded: boolean;
}

/** main.ts run as the engine's processes run the program: `node -r <register> main.ts`. */
function run(hook = { register, module: cacheModule }): RunOutput {
  const out = execFileSync("node", ["-r", hook.register, "main.ts"], {
    cwd: project,
    env: { ...process.env, SKYLAB_COMPILE_CACHE: cache, PULUMI_NODEJS_TSCONFIG_PATH: "tsconfig.json", HOOK_MODULE: hook.module },
    encoding: "utf8",
  });
  return JSON.parse(out) as RunOutput;
}

/** Rewrites a file and puts its modification time back: freshness must not depend on mtimes. */
function rewriteKeepingMtime(file: string, text: string): void {
  const { atime, mtime } = statSync(file);
  writeFileSync(file, text);
  utimesSync(file, atime, mtime);
}

function cachedModules(): number {
  return readdirSync(cache, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith(".js")).length;
}

test("the first run transpiles both modules; the next takes both from the cache without loading the compiler", () => {
  expect(run()).toEqual({ message: "first", pick: "(a) => a?.b", stats: { hits: 0, misses: 2 }, compilerLoaded: true });
  expect(run()).toEqual({ message: "first", pick: "(a) => a?.b", stats: { hits: 2, misses: 0 }, compilerLoaded: false });
  expect(cachedModules()).toBe(2);
});

test("an edited module runs as edited on the next start, even with its old mtime; only it is transpiled again", () => {
  run();
  rewriteKeepingMtime(path.join(project, "message.ts"), 'export const message: string = "other";\n');
  expect(run()).toMatchObject({ message: "other", stats: { hits: 1, misses: 1 } });
  expect(cachedModules()).toBe(3);
  // Back to the first text: its entry is still there.
  rewriteKeepingMtime(path.join(project, "message.ts"), 'export const message: string = "first";\n');
  expect(run()).toMatchObject({ message: "first", stats: { hits: 2, misses: 0 } });
});

test("a change in a tsconfig the project's tsconfig extends recompiles every module with the new options", () => {
  run();
  rewriteKeepingMtime(path.join(project, "base.json"), JSON.stringify({ compilerOptions: { target: "ES2019", module: "commonjs", strict: true } }));
  expect(run()).toEqual({
    message: "first",
    pick: "(a) => a === null || a === void 0 ? void 0 : a.b",
    stats: { hits: 0, misses: 2 },
    compilerLoaded: true,
  });
});

test("a change in the project's tsconfig itself recompiles too", () => {
  run();
  writeFileSync(path.join(project, "tsconfig.json"), '{ "extends": "./base.json", "compilerOptions": { "isolatedModules": true, "target": "ES2019" } }\n');
  expect(run()).toMatchObject({ pick: "(a) => a === null || a === void 0 ? void 0 : a.b", stats: { hits: 0, misses: 2 } });
});

test("a changed compile-cache.js transpiles everything again: what another version of it kept is never served", () => {
  run();
  // A copy one comment apart, beside the tests (it finds typescript through the same node_modules).
  const copy = mkdtempSync(path.join(__dirname, ".copy-"));
  try {
    writeFileSync(path.join(copy, "compile-cache.js"), `${readFileSync(cacheModule, "utf8")}\n// another version\n`);
    writeFileSync(path.join(copy, "register-compile-cache.js"), readFileSync(register, "utf8"));
    const other = { register: path.join(copy, "register-compile-cache.js"), module: path.join(copy, "compile-cache.js") };
    expect(run(other)).toMatchObject({ message: "first", stats: { hits: 0, misses: 2 } });
    expect(run(other)).toMatchObject({ message: "first", stats: { hits: 2, misses: 0 } });
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

test("an unreadable options entry is written anew, and the run goes on", () => {
  run();
  const configDir = path.join(cache, "config");
  const entries = readdirSync(configDir);
  expect(entries).toHaveLength(1);
  writeFileSync(path.join(configDir, entries[0]), "{ not json");
  expect(run()).toMatchObject({ message: "first", stats: { hits: 2, misses: 0 } });
  expect(Object.keys(JSON.parse(readFileSync(path.join(configDir, entries[0]), "utf8")))).toEqual(["options", "sources"]);
});

test("a syntax error fails the start with the file, line and TypeScript's message, as ts-node reports it", () => {
  writeFileSync(path.join(project, "message.ts"), 'export const message: string = "first"\nexport const = 2;\n');
  const result = spawnSync("node", ["-r", register, "main.ts"], {
    cwd: project, env: { ...process.env, SKYLAB_COMPILE_CACHE: cache, PULUMI_NODEJS_TSCONFIG_PATH: "tsconfig.json" }, encoding: "utf8",
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain("TSError: ⨯ Unable to compile TypeScript:");
  expect(result.stderr).toContain("message.ts(2,14): error TS1134: Variable declaration expected.");
  // Nothing was kept for the broken text: fixing it is picked up like any edit.
  writeFileSync(path.join(project, "message.ts"), 'export const message: string = "fixed";\n');
  expect(run()).toMatchObject({ message: "fixed" });
});

test("a stack trace names the TypeScript line, not the emitted JavaScript's", () => {
  writeFileSync(path.join(project, "throws.ts"), 'import { message } from "./message";\n\n\nexport function fail(): never {\n  throw new Error(message);\n}\nfail();\n');
  const result = spawnSync("node", ["-r", register, "throws.ts"], {
    cwd: project, env: { ...process.env, SKYLAB_COMPILE_CACHE: cache, PULUMI_NODEJS_TSCONFIG_PATH: "tsconfig.json" }, encoding: "utf8",
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain(`at fail (${path.join(project, "throws.ts")}:5:9)`);
});

test("a cache folder that cannot be written still runs the current code", () => {
  writeFileSync(cache, "a file where the cache folder would be");
  expect(run()).toMatchObject({ message: "first", stats: { hits: 0, misses: 2 } });
  expect(run()).toMatchObject({ message: "first", stats: { hits: 0, misses: 2 } });
});

test("--warm fills the cache for a folder without running anything; the next start transpiles nothing", () => {
  const out = execFileSync("node", [cacheModule, "--warm", project], {
    cwd: project, env: { ...process.env, SKYLAB_COMPILE_CACHE: cache, PULUMI_NODEJS_TSCONFIG_PATH: "tsconfig.json" }, encoding: "utf8",
  });
  expect(out).toContain("compile cache: 2 TypeScript files, 2 transpiled, 0 already cached");
  expect(run()).toMatchObject({ stats: { hits: 2, misses: 0 }, compilerLoaded: false });
});

test("for every module of the program and the provider runtimes, the JavaScript is ts-node's transpile-only output", () => {
  const script = `
    process.env.SKYLAB_COMPILE_CACHE = ${JSON.stringify(cache)};
    const { javascriptFor } = require(${JSON.stringify(cacheModule)});
    const tsnode = require("ts-node").create({ transpileOnly: true, project: "tsconfig.pulumi.json" });
    const fs = require("fs"), path = require("path");
    const files = ["index.ts", ...["components", "lib", "providers"].flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith(".ts")).map((f) => path.join(d, f)))];
    const strip = (js) => js.replace(/\\n\\/\\/# sourceMappingURL=.*$/s, "");
    const differ = files.filter((f) => { const file = path.resolve(f); const text = fs.readFileSync(file, "utf8"); return strip(javascriptFor(file, text).code) !== strip(tsnode.compile(text, file)); });
    console.log(JSON.stringify({ count: files.length, differ }));`;
  const out = JSON.parse(execFileSync("node", ["-e", script], { cwd: repoRoot, encoding: "utf8" })) as { count: number; differ: string[] };
  expect(out.differ).toEqual([]);
  expect(out.count).toBeGreaterThan(20);
});
