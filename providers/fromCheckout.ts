import { readFileSync } from "fs";
import * as path from "path";
import * as pulumi from "../lib/pulumi";

/** What a runtime module under providers/ exports for the provider of providers/checkout-provider.js. */
export interface ProviderRuntime {
  checkInputs?(news: any, olds: any): any;
  diff(olds: any, news: any): { changes: boolean } | Promise<{ changes: boolean }>;
  create(inputs: any): Promise<{ id: string; outs: any }>;
  update(olds: any, news: any): Promise<{ outs: any }>;
  remove(props: any): Promise<void>;
  /** `pulumi refresh`: the props as the host holds them now; without it a refresh keeps them as they are. */
  read?(id: string, props: any): Promise<{ id: string; props: any }>;
}

const providerModule = readFileSync(path.join(__dirname, "checkout-provider.js"), "utf8");

/**
 * The dynamic provider of `providers/<runtime>.ts` as the state holds it: the text of a module whose
 * `handler()` returns the provider (the SDK's dynamic-provider plugin loads it so). It names the runtime
 * and nothing else; its methods load the runtime from the checkout the engine starts the provider in.
 */
export function providerText(runtime: string): string {
  return `const runtime = ${JSON.stringify(runtime)};\n${providerModule}`;
}

/**
 * A resource of the SDK's dynamic provider (`pulumi-nodejs:dynamic/skylab:<type>`) served by
 * `providers/<runtime>.ts` from the checkout. What `pulumi.dynamic.Resource` does, with the provider given
 * as its text instead of a closure the SDK serializes (which loads the SDK's whole closure serializer).
 */
export abstract class CheckoutResource extends pulumi.CustomResource {
  constructor(runtime: string, type: string, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super(`pulumi-nodejs:dynamic/skylab:${type}`, name, { ...props, __provider: providerText(runtime) }, opts);
  }
}
