import { existsSync } from "fs";
import * as path from "path";
import { providerText } from "../../providers/fromCheckout";

const providersDir = path.resolve(__dirname, "../../providers");
// The SDK's dynamic-provider plugin loads a resource's `__provider` text with require-from-string.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString: (code: string) => any = require("require-from-string");
const providerOf = (runtime: string) => requireFromString(providerText(runtime)).handler();
const { runtimeFile } = require(path.join(providersDir, "checkout-provider.js"));
// The provider's own `require` is Node's (not jest's): .ts through the compile cache, as in the plugin's process.
beforeAll(() => require("../../toolchain/compile-cache").register());

describe("runtimeFile: the runtime names states hold, old and new", () => {
  test.each<[string, string]>([
    ["remoteScriptRuntime", "remoteScript/runtime.ts"],
    ["immichLibraryRuntime", "immichLibrary/runtime.ts"],
    ["remoteScript/runtime", "remoteScript/runtime.ts"],
    ["immichLibrary/runtime", "immichLibrary/runtime.ts"],
  ])("%s is providers/%s, and the file is there", (name, file) => {
    expect(runtimeFile(name)).toBe(file);
    expect(existsSync(path.join(providersDir, file))).toBe(true);
  });
});

describe("providers serialized before the runtimes had their folders", () => {
  // Such a provider requires providers/<old name>.ts itself (a destroy runs the provider the resource was
  // created with), so the old paths must still lead to the same runtime.
  test.each<[string, string]>([
    ["remoteScriptRuntime", "remoteScript/runtime"],
    ["immichLibraryRuntime", "immichLibrary/runtime"],
  ])("providers/%s.ts exports the runtime of providers/%s.ts", (old, current) => {
    const legacy = require(path.join(providersDir, `${old}.ts`));
    const runtime = require(path.join(providersDir, `${current}.ts`));
    for (const method of ["diff", "create", "update", "remove"]) {
      expect(typeof runtime[method]).toBe("function");
      expect(legacy[method]).toBe(runtime[method]);
    }
  });
});

describe("the provider text, loaded as the dynamic-provider plugin loads it", () => {
  test("names the runtime and holds no code of it", () => {
    const text = providerText("remoteScript/runtime");
    expect(text.split("\n")[0]).toBe('const runtime = "remoteScript/runtime";');
    expect(text).not.toContain("diffScripts");
    expect(providerText("immichLibrary/runtime").split("\n").slice(1)).toEqual(text.split("\n").slice(1));
  });

  test("a name with quotes stays one string", () => {
    expect(providerText('a"b\\c').split("\n")[0]).toBe('const runtime = "a\\"b\\\\c";');
  });

  test.each(["remoteScriptRuntime", "remoteScript/runtime"])("%s: check fills in drift from an observed file", async (name) => {
    const cwd = process.cwd();
    process.chdir(path.join(providersDir, "remoteScript"));
    try {
      const news = {
        connection: { host: "h", port: 22, user: "root", hostKey: "k", privateKey: "p", become: "none" },
        description: "d", create: "true", values: {}, logOutput: true,
        observedFile: { sha256: null, path: "/etc/nixos/skylab/x.nix" },
      };
      const { inputs } = await providerOf(name).check({ ...news }, news);
      // Only RemoteScript's checkInputs knows this: the module was loaded and called.
      expect(inputs.drift).toBe("/etc/nixos/skylab/x.nix was deleted on the host");
    } finally {
      process.chdir(cwd);
    }
  });

  test("diff passes the runtime's verdict and never asks for a replacement", async () => {
    const cwd = process.cwd();
    process.chdir(providersDir);
    try {
      const provider = providerOf("immichLibrary/runtime");
      expect(Object.keys(provider).sort()).toEqual(["check", "create", "delete", "diff", "read", "update"]);
      const props = { name: "Pictures", importPaths: ["/media/immich"], exclusionPatterns: [], apiUrl: "http://127.0.0.1:2283", ownerId: "u" };
      const same = await provider.diff("id", { ...props, libraryId: "l" }, props);
      expect(same).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
      const renamed = await provider.diff("id", { ...props, libraryId: "l" }, { ...props, name: "Photos" });
      expect(renamed).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    } finally {
      process.chdir(cwd);
    }
  });

  test("an unknown name says where it looked", async () => {
    await expect(providerOf("noSuchRuntime").diff("id", {}, {})).rejects.toThrow("providers/noSuchRuntime.ts not found above");
  });
});
