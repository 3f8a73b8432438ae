import * as pulumi from "@pulumi/pulumi";

/** What a runtime module under providers/ exports for `providerFromCheckout`. */
export interface ProviderRuntime {
  checkInputs?(news: any, olds: any): any;
  diff(olds: any, news: any): { changes: boolean } | Promise<{ changes: boolean }>;
  create(inputs: any): Promise<{ id: string; outs: any }>;
  update(olds: any, news: any): Promise<{ outs: any }>;
  remove(props: any): Promise<void>;
  /** `pulumi refresh`: the props as the host holds them now; without it a refresh keeps them as they are. */
  read?(id: string, props: any): Promise<{ id: string; props: any }>;
}

/**
 * The file under providers/ of a runtime name. States written before each provider had its folder hold the
 * old names; they are mapped so that those stacks keep working.
 */
export function runtimeFile(runtime: string): string {
  const renamed: Record<string, string> = { remoteScriptRuntime: "remoteScript/runtime", immichLibraryRuntime: "immichLibrary/runtime" };
  return `${renamed[runtime] ?? runtime}.ts`;
}

/**
 * A dynamic provider whose methods load `providers/<runtime>.ts` from the program's checkout (found from
 * the working directory the engine starts providers in). The provider is serialized into the state:
 * this way it captures only the runtime's name, never a copy of its code or of anything it uses.
 */
export function providerFromCheckout(runtime: string): pulumi.dynamic.ResourceProvider {
  const load = (): ProviderRuntime => {
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
  };
  return {
    async check(olds: any, news: any) {
      const module = load();
      return { inputs: module.checkInputs ? module.checkInputs(news, olds) : news };
    },
    async diff(_id: string, olds: any, news: any) {
      const result = await load().diff(olds, news);
      return { changes: result.changes, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: any) {
      return load().create(inputs);
    },
    async update(_id: string, olds: any, news: any) {
      return load().update(olds, news);
    },
    async delete(_id: string, props: any) {
      await load().remove(props);
    },
    async read(id: string, props: any) {
      const module = load();
      return module.read ? module.read(id, props) : { id, props };
    },
  };
}
