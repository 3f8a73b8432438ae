/**
 * Hand-built arguments in the shape @pulumi/policy 1.21 passes to policies, and a collecting reporter, so
 * policies run as plain functions without starting the policy pack's server.
 */
import type {
  PolicyResource,
  PolicyResourceOptions,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";

export const STACK_URN = "urn:pulumi:sandbox::skylab-immich::pulumi:pulumi:Stack::skylab-immich-sandbox";

export function urnOf(type: string, name: string, parentTypes: string[] = []): string {
  return `urn:pulumi:sandbox::skylab-immich::${[...parentTypes, type].join("$")}::${name}`;
}

export interface ResourceOptions {
  config?: Record<string, unknown>;
  opts?: Partial<PolicyResourceOptions>;
  parentTypes?: string[];
}

export function resourceArgs(type: string, name: string, props: Record<string, any>, options: ResourceOptions = {}): ResourceValidationArgs {
  return {
    type,
    name,
    props,
    urn: urnOf(type, name, options.parentTypes),
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
      parent: STACK_URN,
      ...options.opts,
    },
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => (options.config ?? {}) as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`not applicable: ${reason}`);
    },
  };
}

/** The violation messages `validateResource` reports for `args`, in order. */
export async function violations(policy: ResourceValidationPolicy, args: ResourceValidationArgs): Promise<string[]> {
  const messages: string[] = [];
  const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
  for (const validate of validations) {
    await validate?.(args, (message) => messages.push(message));
  }
  return messages;
}

/** Violations of `validateStack` as [message, urn] pairs. */
export async function stackViolations(policy: StackValidationPolicy, config: Record<string, unknown> = {}): Promise<[string, string | undefined][]> {
  const found: [string, string | undefined][] = [];
  const args: StackValidationArgs = {
    resources: [] as PolicyResource[],
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`not applicable: ${reason}`);
    },
  };
  await policy.validateStack(args, (message, urn) => found.push([message, urn]));
  return found;
}

/** A deep copy with one path set (or removed, for `undefined`): "one field changed per case". */
export function withField<T extends object>(base: T, path: string | string[], value: unknown): T {
  const copy = structuredClone(base) as Record<string, any>;
  const keys = Array.isArray(path) ? path : path.split(".");
  let node = copy;
  for (const key of keys.slice(0, -1)) node = node[key];
  const last = keys[keys.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy as T;
}
