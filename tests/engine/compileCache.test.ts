/**
 * The engine runs the program's current TypeScript (toolchain/compile-cache.js, which the project's
 * Pulumi.yaml loads instead of ts-node): a module edited between two `pulumi preview`s runs as edited
 * in the second, with no build step and even with its old mtime put back, and a syntax error fails the
 * preview with TypeScript's message. No sandbox: the program has no resources, only an output.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { runPulumi } from "../../sandbox/stack";

// Inside the checkout, so the program finds node_modules and toolchain/ as the project's own does.
const program = mkdtempSync(path.join(__dirname, ".fresh-"));
const home = mkdtempSync(path.join(tmpdir(), "skylab-fresh-home-"));
const backend = mkdtempSync(path.join(tmpdir(), "skylab-fresh-state-"));
const cache = mkdtempSync(path.join(tmpdir(), "skylab-fresh-cache-"));
const env = { PULUMI_HOME: home, PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "fresh-test", SKYLAB_COMPILE_CACHE: cache };
const preview = () => runPulumi(["preview", "--stack", "fresh"], { cwd: program, env });
const messageFile = path.join(program, "message.ts");

function rewriteKeepingMtime(file: string, text: string): void {
  const { atime, mtime } = statSync(file);
  writeFileSync(file, text);
  utimesSync(file, atime, mtime);
}

const cachedModules = () => readdirSync(cache, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith(".js")).length;

beforeAll(async () => {
  writeFileSync(path.join(program, "Pulumi.yaml"), [
    "name: fresh",
    "runtime:",
    "  name: nodejs",
    "  options:",
    "    typescript: false",
    "    nodeargs: -r ../../../toolchain/register-compile-cache.js",
    "    tsconfig: ../../../tsconfig.pulumi.json",
    "main: index.ts",
    "",
  ].join("\n"));
  writeFileSync(path.join(program, "package.json"), '{ "name": "fresh", "private": true, "main": "index.ts" }\n');
  writeFileSync(path.join(program, "index.ts"), 'import { message } from "./message";\n\nexport const greeting: string = message;\n');
  writeFileSync(messageFile, 'export const message: string = "first text";\n');
  const init = await runPulumi(["stack", "init", "fresh"], { cwd: program, env });
  expect(init.output).toContain("Created stack 'fresh'");
});

afterAll(() => {
  for (const dir of [program, home, backend, cache]) rmSync(dir, { recursive: true, force: true });
});

test("the first preview runs the program as written", async () => {
  const result = await preview();
  expect(result.code).toBe(0);
  expect(result.output).toMatch(/greeting\s*:\s*"first text"/);
  expect(cachedModules()).toBe(2);
});

test("a module edited before the next preview runs as edited, even with its old mtime; only it is transpiled again", async () => {
  rewriteKeepingMtime(messageFile, 'export const message: string = "other text";\n');
  const result = await preview();
  expect(result.code).toBe(0);
  expect(result.output).toMatch(/greeting\s*:\s*"other text"/);
  expect(result.output).not.toContain("first text");
  expect(cachedModules()).toBe(3);
});

test("a syntax error fails the preview with TypeScript's message, file and line", async () => {
  writeFileSync(messageFile, 'export const message: string = "first text"\nexport const = 2;\n');
  const result = await preview();
  expect(result.code).not.toBe(0);
  expect(result.output).toContain("Unable to compile TypeScript");
  expect(result.output).toContain("message.ts(2,14): error TS1134: Variable declaration expected.");
});
