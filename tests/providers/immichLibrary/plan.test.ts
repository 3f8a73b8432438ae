// The decisions of the ImmichLibrary provider that call nothing (providers/immichLibrary/plan.ts), and the
// text of Immich's error answers (providers/immichLibrary/api.ts).
import { immichMessage } from "../../../providers/immichLibrary/api";
import {
  ImmichLibraryOutputs, ImmichLibraryProps, inputChanges, invalidPathsMessage, libraryDifferences, parseApiUrl, recordLibrary,
} from "../../../providers/immichLibrary/plan";
import { CONNECTION_PLAIN } from "../../components/mocks";

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

describe("recordLibrary (refresh records Immich's library in the outputs)", () => {
  const library = { id: "id", ownerId: "o", name: "Digicam", importPaths: ["/media/immich"], exclusionPatterns: ["**/.*", "**/@eaDir/**"], refreshedAt: null };
  test("the same library, patterns in another order: the outputs exactly as stored", () => {
    expect(recordLibrary(STORED, library)).toStrictEqual(STORED);
  });
  test("a hand change is recorded field by field, the rest (key, connection) as stored", () => {
    const recorded = recordLibrary(STORED, { ...library, name: "Photos", exclusionPatterns: ["**/.*"] });
    expect(recorded).toStrictEqual({ ...STORED, name: "Photos", exclusionPatterns: ["**/.*"] });
    // The next diff against the program's inputs names the repair up makes.
    expect(inputChanges(recorded, PROPS)).toStrictEqual(["name changed", "exclusionPatterns changed"]);
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
