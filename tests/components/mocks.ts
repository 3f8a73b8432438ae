/**
 * Pulumi mocks for component tests: every registered resource is recorded with its exact type, name,
 * inputs and URN (whose type chain names the parent's type), and anything the tests did not expect
 * throws: an unknown resource type, or any provider function call.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadScript } from "../../components/shell";
import { renderModuleJson } from "../../lib/nix";

export const REMOTE_SCRIPT = "pulumi-nodejs:dynamic/skylab:RemoteScript";
export const NIX_MODULE_FILE = "skylab:nixos:NixModuleFile";

/** The connection every component test passes (see `connectionInput`). */
export const CONNECTION_PLAIN = {
  host: "192.168.1.20",
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey",
  privateKey: "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nTEST\n-----END OPENSSH PRIVATE KEY-----\n",
  become: "none" as const,
};

/** The connection as index.ts passes it: the private key a Pulumi secret. */
export function connectionInput() {
  return { ...CONNECTION_PLAIN, privateKey: pulumi.secret(CONNECTION_PLAIN.privateKey) };
}

/** How that connection reaches the engine: the whole object is secret because one field is. */
export const RECORDED_CONNECTION = secretValue(CONNECTION_PLAIN);

/** A script as components load it (tests/components/shell.test.ts checks the loader itself). */
export function script(name: string): string {
  return loadScript(name);
}

export interface Recorded {
  type: string;
  name: string;
  /** Inputs as the engine receives them, without the dynamic provider's serialized `__provider`. */
  inputs: Record<string, any>;
  custom: boolean;
  /** URN of the parent the SDK registered the resource with ("" for none). */
  parent: string;
  /** URNs of the resources it was registered to depend on (`dependsOn`, and those its inputs came from). */
  dependencies: string[];
  /** Filled in by `settle()`: the mock monitor's URN (`…::parentType$type::name`). */
  urn?: string;
}

export interface MockRecorder {
  resources: Recorded[];
  /** Waits until every registration has reached the mocks, then fills in each resource's URN. */
  settle(): Promise<Recorded[]>;
  /** The one recorded resource named `name`; throws when there is none or more than one. */
  byName(name: string): Recorded;
  /** Forgets what was recorded (between tests). */
  reset(): void;
}

/** How a secret value looks in mock inputs (the RPC encoding: the SDK marks it, the engine keeps it secret). */
export function secretValue(value: unknown): Record<string, unknown> {
  return { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value };
}

/**
 * Installs mocks that accept only `allowedTypes`. `stateFor` may add outputs to a resource's state
 * (e.g. a RemoteScript's `stdout`); by default the state is the inputs.
 */
export function installMocks(
  allowedTypes: string[],
  stateFor: (type: string, name: string, inputs: Record<string, any>) => Record<string, any> = (_t, _n, inputs) => inputs,
): MockRecorder {
  const resources: Recorded[] = [];
  const registrations = new Map<string, { parent: string; dependencies: string[] }>();
  // A throw inside a mock reaches the SDK, not the test: keep it so `settle()` fails the test with it.
  const unexpected: string[] = [];
  const fail = (message: string): never => {
    unexpected.push(message);
    throw new Error(message);
  };
  pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        if (!allowedTypes.includes(args.type)) {
          fail(`unmocked resource type ${args.type} (${args.name})`);
        }
        const { __provider: provider, ...inputs } = args.inputs as Record<string, any>;
        if (args.type === REMOTE_SCRIPT && typeof provider !== "string") {
          fail(`dynamic resource ${args.name} has no serialized provider`);
        }
        const registration = registrations.get(`${args.type}::${args.name}`);
        if (!registration) return fail(`no registration seen for ${args.type} ${args.name}`);
        resources.push({ type: args.type, name: args.name, inputs, custom: args.custom ?? false, ...registration });
        return { id: args.custom ? `${args.name}-id` : undefined, state: stateFor(args.type, args.name, inputs) };
      },
      call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
        return fail(`unexpected provider function call ${args.token}`);
      },
    },
    "skylab-immich",
    "test",
    false,
  );
  // MockResourceArgs carries no parent or dependencies: read them from the request the SDK sends.
  type Request = { getType(): string; getName(): string; getParent(): string; getDependenciesList(): string[] };
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: Request, callback: unknown): unknown };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: Request, callback: unknown) => {
    registrations.set(`${req.getType()}::${req.getName()}`, { parent: req.getParent(), dependencies: [...req.getDependenciesList()].sort() });
    return register(req, callback);
  };

  const settle = async (): Promise<Recorded[]> => {
    // Registrations are RPCs; the runtime's own queue tells when they are all done (not in the typings).
    const runtime = pulumi.runtime as unknown as { waitForRPCs(): Promise<void> };
    await runtime.waitForRPCs();
    if (unexpected.length) throw new Error(`unexpected use of the mocks:\n${unexpected.join("\n")}`);
    const monitor = pulumi.runtime.getMonitor() as unknown as { getRegisteredResources(): Map<string, unknown> };
    const urns = [...monitor.getRegisteredResources().keys()];
    for (const resource of resources) {
      const matches = urns.filter((urn) => {
        const [, , typeChain, name] = urn.split("::");
        return name === resource.name && typeChain.split("$").pop() === resource.type;
      });
      if (matches.length !== 1) throw new Error(`expected one URN for ${resource.type} ${resource.name}, found ${matches.length}`);
      resource.urn = matches[0];
    }
    return resources;
  };

  const byName = (name: string): Recorded => {
    const found = resources.filter((r) => r.name === name);
    if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
    return found[0];
  };

  const reset = () => {
    resources.length = 0;
    unexpected.length = 0;
  };

  return { resources, settle, byName, reset };
}

/** The URN a resource gets from the mock monitor, given its parent's type (or none for a root resource). */
export function urnOf(type: string, name: string, parentType?: string): string {
  return `urn:pulumi:test::skylab-immich::${parentType ? `${parentType}$` : ""}${type}::${name}`;
}

/** Resolves an output's value (undefined when unknown) so tests can assert on it. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** What a component built on NixModuleFile must have registered for its module. */
export interface ModuleFileExpectation {
  /** The component's type token and name; the module is `${name}-module`, its script `${name}-module-file`. */
  type: string;
  name: string;
  generator: string;
  configRepo: string;
  path: string;
  /** The exact file the script's provider renders from the module it is given. */
  content: string;
  /** What the host look found, as passed to the component (omitted: not looked at). */
  hostSha256?: string | null;
}

/**
 * Asserts the resource tree component → NixModuleFile → RemoteScript with exact types, names, parents,
 * the exact inputs of the script that writes the file, and the exact text its provider renders.
 */
export function expectModuleFileTree(recorder: MockRecorder, e: ModuleFileExpectation): void {
  const module = `${e.name}-module`;
  const file = `${e.name}-module-file`;
  const tree = recorder.resources
    .filter((r) => [e.name, module, file].includes(r.name))
    .map((r) => [r.type, r.name, r.urn, r.parent]);
  expect(tree).toStrictEqual([
    [e.type, e.name, urnOf(e.type, e.name), ""],
    [NIX_MODULE_FILE, module, urnOf(NIX_MODULE_FILE, module, e.type), urnOf(e.type, e.name)],
    [REMOTE_SCRIPT, file, urnOf(REMOTE_SCRIPT, file, NIX_MODULE_FILE), urnOf(NIX_MODULE_FILE, module, e.type)],
  ]);
  const moduleInputs = recorder.byName(module).inputs;
  const scriptInputs = recorder.byName(file).inputs;
  expect(scriptInputs).toStrictEqual({
    connection: RECORDED_CONNECTION,
    description: `NixOS module ${e.path}`,
    create: script("module-file-write.sh"),
    delete: script("module-file-remove.sh"),
    values: { REPO: e.configRepo, RELPATH: e.path, MARKER: "# Generated by skylab-immich" },
    // The body the component declares, still data: the provider renders it.
    module: { value: "CONTENT", generator: e.generator, body: moduleInputs.body },
    drift: "in-sync",
    logOutput: true,
    ...(e.hostSha256 === undefined ? {} : { observedFile: { sha256: e.hostSha256, path: e.path } }),
  });
  expect(renderModuleJson(scriptInputs.module)).toBe(e.content);
  // hostSha256 has its own tests (it must be left out like drift); the rest is exact here.
  expect(Object.keys(moduleInputs).filter((k) => k !== "hostSha256").sort()).toStrictEqual(["body", "configRepo", "connection", "generator", "path"]);
  expect([moduleInputs.generator, moduleInputs.path, moduleInputs.configRepo]).toStrictEqual([e.generator, e.path, e.configRepo]);
}
