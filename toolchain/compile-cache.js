// Loads the checkout's TypeScript without transpiling it again on every start.
//
//   node -r ./toolchain/register-compile-cache.js index.ts   (Pulumi.yaml `nodeargs`, the provider shim)
//   node toolchain/compile-cache.js --warm FILE|DIR ...       (`npm run setup`: fills the cache ahead of time)
//
// Why: ts-node transpiles every module with the TypeScript compiler on every start, in the program and
// again in the dynamic provider; in the program alone that was about 0.8 s of a no-op `preview`
// (bench/README.md).
// Here each .ts file is transpiled once with TypeScript's own `transpileModule` (what ts-node's
// transpile-only mode does: `isolatedModules` is on, so a file's JavaScript depends on that file and the
// compiler options alone) and the result is kept under a key that is the SHA-256 of everything the
// output depends on: this file's own text, the TypeScript version, the resolved compiler options,
// the file's path and its exact text. A file changed in any way has another key, so it is transpiled
// again before it runs: no stale output can be loaded, and there is no build step. This module loads
// the compiler only on a miss. Type checking stays where it was (`npx tsc --noEmit`, `npm test`).
//
// The cache is node_modules/.cache/skylab-ts/ (SKYLAB_COMPILE_CACHE to move it; `npm ci` empties it).
// Entries are written to a temporary file and renamed, so concurrent processes (the program and the
// provider start together) never read half an entry. When the folder cannot be written, files are
// transpiled in memory as ts-node would.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const Module = require("module");
const path = require("path");

const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex");

// Part of every key: a change to how this file transpiles can never serve what an older version kept.
const FORMAT = sha256(fs.readFileSync(__filename));
const root = path.resolve(__dirname, "..");
const cacheDir = process.env.SKYLAB_COMPILE_CACHE || path.join(root, "node_modules", ".cache", "skylab-ts");

let typescript;
/** The compiler, loaded on the first miss only. */
function compiler() {
  if (!typescript) typescript = require(require.resolve("typescript", { paths: [root] }));
  return typescript;
}

function typescriptVersion() {
  const manifest = require.resolve("typescript/package.json", { paths: [root] });
  return JSON.parse(fs.readFileSync(manifest, "utf8")).version;
}

function readIfPresent(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function writeAtomically(file, text) {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    fs.writeFileSync(temporary, text);
    fs.renameSync(temporary, file);
  } catch {
    // A read-only checkout or cache: the output was still produced, it is just not kept.
  }
}

/**
 * The compiler options of `tsconfigPath` as the emitter uses them. Parsing a tsconfig (comments,
 * `extends`) needs the compiler, so the result is cached too, keyed by the text of the tsconfig; the
 * entry lists every file it was built from (the `extends` chain) with its digest, and counts only while
 * all of them are unchanged.
 */
function compilerOptions(tsconfigPath, tsVersion) {
  const text = fs.readFileSync(tsconfigPath, "utf8");
  const entryFile = path.join(cacheDir, "config", `${sha256([FORMAT, tsVersion, tsconfigPath, text].join("\0"))}.json`);
  const entry = parseIfValid(readIfPresent(entryFile));
  const unchanged = (source) => {
    const now = readIfPresent(source.path);
    return now !== undefined && sha256(now) === source.sha256;
  };
  if (entry && entry.sources.every(unchanged)) return entry.options;
  const ts = compiler();
  const parsed = ts.getParsedCommandLineOfConfigFile(tsconfigPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(`${tsconfigPath}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`);
    },
  });
  const errors = parsed.errors.filter((d) => d.category === ts.DiagnosticCategory.Error && d.code !== 18003 /* no inputs */);
  if (errors.length) throw new Error(ts.formatDiagnostics(errors, formatHost(ts)));
  const options = { ...parsed.options };
  // Where the output goes and what else tsc would write do not apply to one file in memory.
  for (const key of ["configFilePath", "configFile", "outDir", "outFile", "rootDir", "declaration", "declarationMap", "composite", "incremental", "tsBuildInfoFile", "noEmit", "sourceMap", "inlineSources", "mapRoot", "sourceRoot"]) {
    delete options[key];
  }
  // Stack traces point at the TypeScript lines (source-map-support in register() reads this map).
  options.inlineSourceMap = true;
  const extended = (parsed.options.configFile && parsed.options.configFile.extendedSourceFiles) || [];
  const sources = [tsconfigPath, ...extended].map((source) => ({ path: source, sha256: sha256(fs.readFileSync(source, "utf8")) }));
  writeAtomically(entryFile, JSON.stringify({ options, sources }));
  return options;
}

/** A config entry as written below, or undefined (absent or unreadable: it is then written anew). */
function parseIfValid(text) {
  if (text === undefined) return undefined;
  try {
    const entry = JSON.parse(text);
    return entry && typeof entry.options === "object" && Array.isArray(entry.sources) ? entry : undefined;
  } catch {
    return undefined;
  }
}

function formatHost(ts) {
  return { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => ts.sys.newLine };
}

/** The tsconfig the program names (Pulumi.yaml's `tsconfig`, passed on by the language host), else the checkout's. */
function projectTsconfig() {
  const named = process.env.PULUMI_NODEJS_TSCONFIG_PATH;
  return named ? path.resolve(named) : path.join(root, "tsconfig.pulumi.json");
}

let settings;
function currentSettings() {
  if (!settings) {
    const tsVersion = typescriptVersion();
    const options = compilerOptions(projectTsconfig(), tsVersion);
    settings = { tsVersion, options, optionsText: JSON.stringify(options) };
  }
  return settings;
}

/** As ts-node names it: the SDK prints a TSError's message without a stack trace. */
class TSError extends Error {
  constructor(message) {
    super(message);
    this.name = "TSError";
  }
}

/** The JavaScript for `filename` whose text is `source`: from the cache, else transpiled and kept. */
function javascriptFor(filename, source) {
  const { tsVersion, options, optionsText } = currentSettings();
  const key = sha256([FORMAT, tsVersion, optionsText, filename, source].join("\0"));
  const entryFile = path.join(cacheDir, key.slice(0, 2), `${key}.js`);
  const cached = readIfPresent(entryFile);
  if (cached !== undefined) return { code: cached, hit: true };
  const ts = compiler();
  const output = ts.transpileModule(source, { fileName: filename, compilerOptions: options, reportDiagnostics: true });
  const errors = (output.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) {
    throw new TSError(`⨯ Unable to compile TypeScript:\n${ts.formatDiagnostics(errors, formatHost(ts))}`);
  }
  writeAtomically(entryFile, output.outputText);
  return { code: output.outputText, hit: false };
}

const stats = { hits: 0, misses: 0 };

function register() {
  if (Module._extensions[".ts"] && Module._extensions[".ts"].skylabCompileCache) return;
  // Stack traces in TypeScript lines, as ts-node gives them: the same source-map-support, which reads a
  // map only when a stack is printed (Node's own --enable-source-maps reads every package's maps at load).
  const loaded = new Map();
  require(require.resolve("@cspotcode/source-map-support", { paths: [root] })).install({
    environment: "node",
    retrieveFile: (file) => loaded.get(file) || "",
  });
  const load = (module, filename) => {
    const { code, hit } = javascriptFor(filename, fs.readFileSync(filename, "utf8"));
    stats[hit ? "hits" : "misses"]++;
    loaded.set(filename, code);
    module._compile(code, filename);
  };
  load.skylabCompileCache = true;
  Module._extensions[".ts"] = load;
}

/** Fills the cache for every .ts file (not .d.ts) under the given files and folders, without running any. */
function warm(targets) {
  const files = [];
  const walk = (entry) => {
    const stat = fs.statSync(entry);
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(entry)) if (name !== "node_modules" && !name.startsWith(".")) walk(path.join(entry, name));
    } else if (entry.endsWith(".ts") && !entry.endsWith(".d.ts")) files.push(path.resolve(entry));
  };
  for (const target of targets) walk(target);
  for (const file of files) stats[javascriptFor(file, fs.readFileSync(file, "utf8")).hit ? "hits" : "misses"]++;
  return files.length;
}

module.exports = { register, warm, javascriptFor, stats, cacheDir };

if (require.main === module) {
  const [flag, ...targets] = process.argv.slice(2);
  if (flag !== "--warm" || targets.length === 0) {
    console.error("usage: node toolchain/compile-cache.js --warm FILE|DIR ...");
    process.exit(2);
  }
  const count = warm(targets);
  console.log(`compile cache: ${count} TypeScript files, ${stats.misses} transpiled, ${stats.hits} already cached (${path.relative(process.cwd(), cacheDir)})`);
}
