import * as pulumi from "@pulumi/pulumi";
import { ImmichExternalLibrary, libraryArgsProblems } from "../../components/ImmichExternalLibrary";
import { connectionInput, installMocks, RECORDED_CONNECTION, secretValue, urnOf, valueOf } from "./mocks";

const TYPE = "skylab:apps:ImmichExternalLibrary";
const LIBRARY = "pulumi-nodejs:dynamic/skylab:ImmichLibrary";
const INDEXING = { seconds: 1.5, assetsFound: 5, assetsPerSecond: 3.33, startedAt: "2026-01-01T00:00:00.000Z" };
const mocks = installMocks([TYPE, LIBRARY], (type, _name, inputs) =>
  type === LIBRARY ? { ...inputs, libraryId: "0f8e3c1a-0000-4000-8000-000000000001", resolvedOwnerId: "owner-id", indexing: INDEXING } : inputs);
beforeEach(() => mocks.reset());

const API_KEY = "k3y-'\"$x";

describe("ImmichExternalLibrary component", () => {
  test("component → one ImmichLibrary with the defaults, the key and the connection secret, exact inputs", async () => {
    const library = new ImmichExternalLibrary("lib", { connection: connectionInput(), apiKey: pulumi.secret(API_KEY), name: "Digi cam \"2024\"" });
    await mocks.settle();
    expect(mocks.resources.map((r) => [r.type, r.name, r.urn, r.parent])).toStrictEqual([
      [TYPE, "lib", urnOf(TYPE, "lib"), ""],
      [LIBRARY, "lib-library", urnOf(LIBRARY, "lib-library", TYPE), urnOf(TYPE, "lib")],
    ]);
    expect(mocks.byName("lib-library").inputs).toStrictEqual({
      connection: RECORDED_CONNECTION,
      apiUrl: "http://127.0.0.1:2283",
      apiKey: secretValue(API_KEY),
      name: "Digi cam \"2024\"",
      importPaths: ["/media/immich"],
      exclusionPatterns: ["**/@eaDir/**", "**/.*"],
      scanAndWait: true,
      scanTimeoutSeconds: 3600,
      deleteOnDestroy: false,
    });
    expect(mocks.byName("lib").inputs).toStrictEqual({ connection: RECORDED_CONNECTION, apiKey: secretValue(API_KEY), name: "Digi cam \"2024\"" });
    expect(await valueOf(library.libraryId)).toBe("0f8e3c1a-0000-4000-8000-000000000001");
    expect(await valueOf(library.indexing)).toStrictEqual(INDEXING);
  });

  test("a plain API key is made secret before it reaches the engine", async () => {
    new ImmichExternalLibrary("plain", { connection: connectionInput(), apiKey: API_KEY, name: "Digicam" });
    await mocks.settle();
    expect(mocks.byName("plain-library").inputs.apiKey).toStrictEqual(secretValue(API_KEY));
    expect(mocks.byName("plain").inputs.apiKey).toStrictEqual(secretValue(API_KEY));
  });

  test("every setting given reaches the resource unchanged", async () => {
    new ImmichExternalLibrary("all", {
      connection: connectionInput(), apiKey: pulumi.secret(API_KEY), name: "Digicam", apiUrl: "http://127.0.0.2:3001",
      ownerId: "6c0f0f55-1d4c-4b8e-9a53-7d1f7b0c2e11", importPaths: ["/media/immich", "/srv/photos"], exclusionPatterns: ["**/*.tmp"],
      scanAndWait: false, scanTimeoutSeconds: 60, deleteOnDestroy: true, rescanToken: "2",
    });
    await mocks.settle();
    const { connection, apiKey, ...rest } = mocks.byName("all-library").inputs;
    expect([connection, apiKey]).toStrictEqual([RECORDED_CONNECTION, secretValue(API_KEY)]);
    expect(rest).toStrictEqual({
      apiUrl: "http://127.0.0.2:3001", name: "Digicam", ownerId: "6c0f0f55-1d4c-4b8e-9a53-7d1f7b0c2e11",
      importPaths: ["/media/immich", "/srv/photos"], exclusionPatterns: ["**/*.tmp"], scanAndWait: false, scanTimeoutSeconds: 60,
      deleteOnDestroy: true, rescanToken: "2",
    });
  });

  test("invalid settings fail before any resource is registered, naming each setting", async () => {
    expect(() => new ImmichExternalLibrary("bad", {
      connection: connectionInput(), apiKey: pulumi.secret(API_KEY), name: " ", importPaths: ["media/immich"],
    })).toThrow(/`library.name` must not be empty[\s\S]*`library.importPaths` must hold absolute, normalized paths \(got "media\/immich"\)/);
    await mocks.settle();
    expect(mocks.resources.map((r) => r.name)).not.toContain("bad-library");
  });
});

describe("libraryArgsProblems", () => {
  test.each<[string, Parameters<typeof libraryArgsProblems>[0], string[]]>([
    ["defaults are fine", { name: "Digicam" }, []],
    ["empty name", { name: "" }, ["`library.name` must not be empty: the library's name in Immich, e.g. \"Digicam\""]],
    ["both owners", { name: "D", ownerId: "6c0f0f55-1d4c-4b8e-9a53-7d1f7b0c2e11", ownerEmail: "a@b.c" }, ["`library.ownerId` and `library.ownerEmail` are both set: keep one"]],
    ["owner id not a uuid", { name: "D", ownerId: "zipang" }, ["`library.ownerId` must be an Immich user id, a UUID (got \"zipang\"): copy it from Administration → Users"]],
    ["no import path", { name: "D", importPaths: [] }, ["`library.importPaths` must list at least one folder, e.g. [\"/media/immich\"]"]],
    ["trailing slash", { name: "D", importPaths: ["/media/immich/"] }, ["`library.importPaths` must hold absolute, normalized paths (got \"/media/immich/\")"]],
    ["empty pattern", { name: "D", exclusionPatterns: [""] }, ["`library.exclusionPatterns` must not contain empty patterns"]],
    ["https url", { name: "D", apiUrl: "https://immich.skylab.local" }, ["`library.apiUrl` must be http://HOST[:PORT] as seen on SKYLAB (got \"https://immich.skylab.local\"), e.g. \"http://127.0.0.1:2283\""]],
    ["short timeout", { name: "D", scanTimeoutSeconds: 5 }, ["`library.scanTimeoutSeconds` must be a whole number of seconds, at least 10 (got 5)"]],
    // The server decides about /home (ProtectHome); the config layer does not second-guess it.
    ["a path under /home is left to Immich's validation", { name: "D", importPaths: ["/home/zipang/Pictures/Digicam"] }, []],
  ])("%s", (_name, args, expected) => {
    expect(libraryArgsProblems(args)).toStrictEqual(expected);
  });
});
