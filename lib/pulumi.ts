// The parts of @pulumi/pulumi this program uses, each from the SDK module that defines it. The package's
// index also loads the Automation API and the closure serializer: about 580 more modules and a second of
// start-up on every `preview`, for nothing this program uses (its dynamic providers are module text,
// providers/checkout-provider.js, never serialized closures). Import the SDK through this file.
export { ComponentResource, CustomResource, Resource } from "@pulumi/pulumi/resource";
export type { ComponentResourceOptions, CustomResourceOptions } from "@pulumi/pulumi/resource";
export { Output, all, interpolate, output, secret, unsecret } from "@pulumi/pulumi/output";
export type { Input, Inputs } from "@pulumi/pulumi/output";
export { Config } from "@pulumi/pulumi/config";
export { getStack } from "@pulumi/pulumi/metadata";
export { ResourceError } from "@pulumi/pulumi/errors";
export * as log from "@pulumi/pulumi/log";
import { allConfig } from "@pulumi/pulumi/runtime/config";
export const runtime = { allConfig };
