// The text of every dynamic provider of this program, as the state holds it (the resource's `__provider`
// input): the SDK's dynamic-provider plugin loads this text as a module and calls `handler()` for the
// provider. providers/fromCheckout.ts puts `const runtime = "<name>";` before it. The provider's methods
// load `providers/<runtime>.ts` from the program's checkout (found from the working directory the engine
// starts providers in), so the state holds the runtime's name, never a copy of its code.
// Plain JavaScript with nothing captured: it runs as it is written here, in the provider's process.
/* global runtime */
"use strict";

function runtimeFile(name) {
  // States written before each provider had its folder hold the old names.
  const renamed = { remoteScriptRuntime: "remoteScript/runtime", immichLibraryRuntime: "immichLibrary/runtime" };
  return `${renamed[name] || name}.ts`;
}

function load() {
  const path = require("path");
  const fs = require("fs");
  const file = runtimeFile(runtime);
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "providers", file);
    if (fs.existsSync(candidate)) return require(candidate);
    if (path.dirname(dir) === dir) {
      throw new Error(`providers/${file} not found above ${process.cwd()}: run pulumi from the skylab-immich checkout`);
    }
  }
}

exports.runtimeFile = runtimeFile;
exports.handler = () => ({
  async check(olds, news) {
    const module = load();
    return { inputs: module.checkInputs ? module.checkInputs(news, olds) : news };
  },
  async diff(_id, olds, news) {
    const result = await load().diff(olds, news);
    return { changes: result.changes, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs) {
    return load().create(inputs);
  },
  async update(_id, olds, news) {
    return load().update(olds, news);
  },
  async delete(_id, props) {
    await load().remove(props);
  },
  async read(id, props) {
    const module = load();
    return module.read ? module.read(id, props) : { id, props };
  },
});
