import * as pulumi from "@pulumi/pulumi";
import { ImmichExternalLibrary, libraryArgsProblems } from "../../components/ImmichExternalLibrary";
import {
  immichMessage, inputChanges, invalidPathsMessage, libraryDifferences, parseApiUrl, ImmichLibraryOutputs, ImmichLibraryProps,
} from "../../providers/immichLibraryRuntime";
import { CONNECTION_PLAIN, connectionInput, installMocks, RECORDED_CONNECTION, secretValue, urnOf, valueOf } from "./mocks";

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

// Pure parts of the provider runtime (providers/immichLibraryRuntime.ts).
const PROPS: ImmichLibraryProps = {
  connection: CONNECTION_PLAIN, apiUrl: "http://127.0.0.1:2283", apiKey: "k", name: "Digicam", importPaths: ["/media/immich"],
  exclusionPatterns: ["**/@eaDir/**", "**/.*"], scanAndWait: true, scanTimeoutSeconds: 3600, deleteOnDestroy: false,
};
const STORED: ImmichLibraryOutputs = { ...PROPS, libraryId: "id", resolvedOwnerId: "o", lastChanges: ["created", "scanned"], indexing: null };

describe("inputChanges (the diff before any look at Immich)", () => {
  test.each<[string, Partial<ImmichLibraryProps>, string[]]>([
    ["same inputs: nothing", {}, []],
    ["a new private key alone is not a change", { connection: { ...CONNECTION_PLAIN, privateKey: "other" } }, []],
    ["a rotated API key is stored by an update (the reason does not show the key)", { apiKey: "other" }, ["apiKey changed"]],
    ["exclusion pattern", { exclusionPatterns: ["**/@eaDir/**"] }, ["exclusionPatterns changed"]],
    ["import path", { importPaths: ["/srv"] }, ["importPaths changed"]],
    ["name", { name: "Other" }, ["name changed"]],
    ["deleteOnDestroy is stored by an update", { deleteOnDestroy: true }, ["deleteOnDestroy changed"]],
    ["rescan token", { rescanToken: "1" }, ["rescanToken changed"]],
    ["another host", { connection: { ...CONNECTION_PLAIN, host: "10.0.0.9" } }, ["connection.host changed"]],
  ])("%s", (_name, change, expected) => {
    expect(inputChanges(STORED, { ...PROPS, ...change })).toStrictEqual(expected);
  });
});

describe("libraryDifferences", () => {
  const library = { id: "id", ownerId: "o", name: "Digicam", importPaths: ["/media/immich"], exclusionPatterns: ["**/.*", "**/@eaDir/**"], refreshedAt: null };
  test.each<[string, Partial<typeof library>, string[]]>([
    ["equal, patterns in another order", {}, []],
    ["renamed by hand", { name: "Photos" }, ["name"]],
    ["pattern removed by hand", { exclusionPatterns: ["**/.*"] }, ["exclusionPatterns"]],
    ["path added by hand", { importPaths: ["/media/immich", "/srv"] }, ["importPaths"]],
  ])("%s", (_name, change, expected) => {
    expect(libraryDifferences({ ...library, ...change }, PROPS)).toStrictEqual(expected);
  });
});

describe("invalidPathsMessage", () => {
  test("valid paths: no message", () => {
    expect(invalidPathsMessage("D", [{ importPath: "/media/immich", isValid: true }])).toBeUndefined();
  });
  test("Immich's own message, and the ProtectHome explanation for /home", () => {
    expect(invalidPathsMessage("Digicam", [
      { importPath: "/media/immich", isValid: true },
      { importPath: "/home/zipang/Pictures/Digicam", isValid: false, message: "Error: EACCES: permission denied, stat '/home/zipang/Pictures/Digicam'" },
      { importPath: "/srv/none", isValid: false, message: "Path does not exist (ENOENT)" },
    ])).toBe([
      "Immich rejected the import paths of library \"Digicam\" (`library.importPaths`); nothing was saved:",
      "  - /home/zipang/Pictures/Digicam: Error: EACCES: permission denied, stat '/home/zipang/Pictures/Digicam' (the NixOS Immich service runs " +
        "with ProtectHome=true: paths under /home are invisible to Immich; use the read-only bind mount, `pictures.mountPoint`, e.g. /media/immich)",
      "  - /srv/none: Path does not exist (ENOENT)",
    ].join("\n"));
  });
});

describe("parseApiUrl and immichMessage", () => {
  test.each<[string, { host: string; port: number }]>([
    ["http://127.0.0.1:2283", { host: "127.0.0.1", port: 2283 }],
    ["http://localhost", { host: "localhost", port: 80 }],
  ])("%s", (url, expected) => expect(parseApiUrl(url)).toStrictEqual(expected));
  test("https is refused", () => expect(() => parseApiUrl("https://x")).toThrow("`library.apiUrl` must be an http:// URL"));
  test.each<[string, unknown, string]>([
    ["class-validator list", { status: 400, data: { message: ["ownerId must be a UUID", "name must be a string"] } }, "HTTP 400: ownerId must be a UUID; name must be a string"],
    ["one message as JSON text", { status: 400, data: "{\"message\":\"Invalid import path: Not a directory\"}" }, "HTTP 400: Invalid import path: Not a directory"],
    ["no body", { status: 502, data: undefined }, "HTTP 502"],
    ["not an HTTP error", new Error("socket hang up"), "socket hang up"],
  ])("%s", (_name, error, expected) => expect(immichMessage(error)).toBe(expected));
});
