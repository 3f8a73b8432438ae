import { execFileSync } from "child_process";
import { readdirSync, readFileSync, statSync } from "fs";
import * as path from "path";

// The program loads only the SDK modules it uses (lib/pulumi.ts): the SDK's index would add its Automation
// API and closure serializer to every run's start-up.
const root = path.resolve(__dirname, "../..");

/** The module files a fresh node has loaded after requiring `modules` (through the compile cache). */
function loadedAfter(modules: string[]): string[] {
  const script = `${modules.map((m) => `require(${JSON.stringify(m)});`).join("")}process.stdout.write(JSON.stringify(Object.keys(require.cache)))`;
  const out = execFileSync(process.execPath, ["-r", "./toolchain/register-compile-cache.js", "-e", script], { cwd: root, encoding: "utf8" });
  return (JSON.parse(out) as string[]).map((file) => path.relative(root, file));
}

const automation = "node_modules/@pulumi/pulumi/automation/index.js";
const serializer = "node_modules/@pulumi/pulumi/runtime/closure/serializeClosure.js";

function programFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) return programFiles(rel);
    return rel.endsWith(".ts") ? [rel] : [];
  });
}

describe("the program's SDK modules", () => {
  test("every component and provider resource loads without the SDK's index", () => {
    const loaded = loadedAfter(["./lib/config.ts", ...programFiles("components").map((f) => `./${f}`), "./providers/remoteScript/resource.ts", "./providers/immichLibrary/resource.ts"]);
    expect(loaded).toContain("components/NixosApply.ts");
    expect(loaded).toContain("node_modules/@pulumi/pulumi/resource.js");
    expect(loaded).not.toContain(automation);
    expect(loaded).not.toContain(serializer);
    expect(loaded).not.toContain("node_modules/@pulumi/pulumi/index.js");
  });

  test("positive control: the SDK's index loads both", () => {
    const loaded = loadedAfter(["@pulumi/pulumi"]);
    expect(loaded).toContain(automation);
    expect(loaded).toContain(serializer);
  });

  test("no program file imports the SDK's index", () => {
    const files = ["index.ts", ...programFiles("lib"), ...programFiles("components"), ...programFiles("providers")];
    expect(files).toContain("lib/pulumi.ts");
    const importsIndex = /from "@pulumi\/pulumi"|require\("@pulumi\/pulumi"\)/;
    expect(importsIndex.test('import * as pulumi from "@pulumi/pulumi";')).toBe(true);
    expect(importsIndex.test('export { Config } from "@pulumi/pulumi/config";')).toBe(false);
    const importers = files.filter((f) => importsIndex.test(readFileSync(path.join(root, f), "utf8")));
    expect(importers).toEqual([]);
  });
});
