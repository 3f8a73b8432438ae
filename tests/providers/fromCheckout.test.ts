import { existsSync } from "fs";
import * as path from "path";
import { providerFromCheckout, runtimeFile } from "../../providers/fromCheckout";

const providersDir = path.resolve(__dirname, "../../providers");

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

describe("providerFromCheckout loads the runtime of an old name from the checkout", () => {
  test.each(["remoteScriptRuntime", "remoteScript/runtime"])("%s: check fills in drift from an observed file", async (name) => {
    const cwd = process.cwd();
    process.chdir(path.join(providersDir, "remoteScript"));
    try {
      const news = {
        connection: { host: "h", port: 22, user: "root", hostKey: "k", privateKey: "p", become: "none" },
        description: "d", create: "true", values: {}, logOutput: true,
        observedFile: { sha256: null, path: "/etc/nixos/skylab/x.nix" },
      };
      const { inputs } = await providerFromCheckout(name).check!({ ...news }, news);
      // Only RemoteScript's checkInputs knows this: the module was loaded and called.
      expect(inputs.drift).toBe("/etc/nixos/skylab/x.nix was deleted on the host");
    } finally {
      process.chdir(cwd);
    }
  });

  test("an unknown name says where it looked", async () => {
    await expect(providerFromCheckout("noSuchRuntime").diff!("id", {}, {})).rejects.toThrow("providers/noSuchRuntime.ts not found above");
  });
});
