/**
 * NixOS' own evaluation of what the program generates: sandbox/standin/nixos.nix runs the REAL nixpkgs module
 * system and modules (the pinned subset, tests/sandbox/oracle.ts) as the sandbox's nixos-rebuild stand-in
 * does before every build. The generated modules evaluate on the sandbox's fixture configuration; a typo'd or
 * mistyped option in each of them fails with the module system's own words; an owner's module that sets an
 * option to another value than the program's is a conflict naming both files. No sandbox: Debian's
 * nix-instantiate on this machine, on configurations written to a temporary folder.
 */
import { spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import path from "path";
import { bindMountModule } from "../../components/BindMount";
import { cloudflareTunnelModule } from "../../components/CloudflareTunnel";
import { fileSystemModule } from "../../components/FileSystemMount";
import { immichModule } from "../../components/ImmichModule";
import { nginxVhostModule } from "../../components/NginxVhost";
import { sopsSecretModule } from "../../components/SopsSecret";
import { NixAttrs, renderModule } from "../../lib/nix";
import { evaluateNixos, nixpkgsOracle, REPO_ROOT } from "./oracle";

const FIXTURES = path.join(REPO_ROOT, "sandbox/fixtures/nixos");
const GENERATED = "modules/generated/skylab-immich";

/** The bodies the components render for the default stack (tcp database mode, tunnel on). */
function generatedBodies(): Record<string, NixAttrs> {
  return {
    "storage-var-lib-immich.nix": fileSystemModule({
      mountPoint: "/var/lib/immich", device: "/dev/disk/by-label/MEDIAS", fsType: "btrfs",
      options: ["subvol=@immich", "compress=zstd", "noatime"], ownership: { user: "immich", group: "immich", mode: "0700" },
    }),
    "storage-media-immich.nix": bindMountModule({ source: "/home/zipang/Pictures/Digicam", mountPoint: "/media/immich" }),
    "secrets.nix": sopsSecretModule({
      key: "immich/db_password", owner: "immich", group: "immich",
      restartUnits: ["immich-db-password.service", "immich-server.service"], envTemplate: { name: "immich.env", variable: "DB_PASSWORD" },
    }),
    "immich.nix": immichModule({
      host: "127.0.0.1", port: 2283, mediaLocation: "/var/lib/immich", user: "immich", group: "immich", machineLearning: true,
      databaseMode: "tcp", secretsTemplate: "immich.env", dbPasswordSecret: "immich/db_password", publicProxy: { enabled: false, port: 3000 },
    }),
    "nginx.nix": nginxVhostModule({ hostName: "immich.skylab.local", upstreamHost: "127.0.0.1", upstreamPort: 2283, clientMaxBodySize: "50000M" }),
    "cloudflared.nix": cloudflareTunnelModule({
      tunnelId: "6ff42ae2-765d-4adf-8112-31c55c1551ef", publicHostName: "photos.example.org", origin: "http://127.0.0.1:80",
      credentialsKey: "cloudflared/credentials",
    }),
  };
}

let root: string;
let counter = 0;

beforeAll(() => {
  nixpkgsOracle(); // fails the suite with its message when the subset is missing
  root = mkdtempSync(path.join(tmpdir(), "standin-nixos-"));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The sandbox's fixture repo with the generated modules (and `owner` files, imported too), as on SKYLAB. */
function configuration(bodies: Record<string, NixAttrs>, owner: Record<string, string> = {}): { file: string; dir: string } {
  const dir = path.join(root, `repo-${++counter}`);
  const copy = spawnSync("cp", ["-r", FIXTURES, dir]);
  if (copy.status !== 0) throw new Error(`cp failed: ${copy.stderr}`);
  // sops-nix hashes the sops file at evaluation (validateSopsFiles): on SKYLAB it is the encrypted secrets.yaml.
  const files: Record<string, string> = { "secrets/secrets.yaml": "# stands in for the encrypted file\n" };
  for (const [file, body] of Object.entries(bodies)) files[`${GENERATED}/${file}`] = renderModule({ generator: "test", body });
  files[`${GENERATED}/default.nix`] = `{ imports = [ ${Object.keys(bodies).map((f) => `./${f}`).join(" ")} ]; }\n`;
  for (const [file, text] of Object.entries({ ...files, ...owner })) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  const file = path.join(dir, "configuration.nix");
  const text = readFileSync(file, "utf8");
  const imports = [GENERATED, ...Object.keys(owner)].map((f) => `    ./${f}\n`).join("");
  const withImports = text.replace("    ./modules/services/immich.nix\n", `    ./modules/services/immich.nix\n${imports}`);
  expect(withImports).not.toBe(text);
  writeFileSync(file, withImports);
  return { file, dir };
}

/** The first error nix-instantiate printed: from `error:` up to the --show-trace hint. */
function errorOf(stderr: string): string {
  const lines = stderr.split("\n");
  const start = lines.findIndex((line) => line.startsWith("error:"));
  if (start < 0) throw new Error(`no error in:\n${stderr}`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith("(use '--show-trace'"));
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

/** A copy of `body` with the value at `at` (a key path) set to `value` (undefined: the key removed). */
function edited(body: NixAttrs, at: string[], value: unknown): NixAttrs {
  // Plain objects and arrays copied; Nix expressions (nixExpr) kept as they are.
  const clone = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(clone)
      : v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) : v;
  const copy = clone(body) as NixAttrs;
  let node: any = copy;
  for (const key of at.slice(0, -1)) node = node[key];
  if (value === undefined) delete node[at[at.length - 1]];
  else node[at[at.length - 1]] = value;
  return copy;
}

test("what the program generates evaluates with NixOS' own modules: no failed assertion, nixpkgs' units and fstab", () => {
  const { file } = configuration(generatedBodies());
  const result = evaluateNixos(file);
  expect(result.stderr).not.toContain("error:");
  expect(result.code).toBe(0);
  const out = JSON.parse(result.stdout) as { failedAssertions: string[]; units: Record<string, string>; fstab: string };
  expect(out.failedAssertions).toEqual([]);
  expect(Object.keys(out.units).sort()).toEqual([
    "cloudflared-tunnel-6ff42ae2-765d-4adf-8112-31c55c1551ef.service", "immich-db-password.service",
    "immich-machine-learning.service", "immich-server.service", "nginx.service", "postgresql-setup.service",
  ]);
  expect(out.units["immich-server.service"]).toContain("\nStateDirectory=immich\n");
  expect(out.units["immich-server.service"]).toContain("\nStateDirectoryMode=0700\n");
  expect(out.units["immich-server.service"]).toContain("\nUMask=0077\n");
  expect(out.fstab).toContain("\n/dev/disk/by-label/MEDIAS /var/lib/immich btrfs subvol=@immich,compress=zstd,noatime 0 0\n");
  expect(out.fstab).toContain("\n/home/zipang/Pictures/Digicam /media/immich none bind,ro 0 0\n");
});

// Each generated module: one option misspelt, one given a value of the wrong type.
const MISSPELT: [string, string[], string][] = [
  ["storage-var-lib-immich.nix", ["fileSystems", "/var/lib/immich", "fsTyp"], 'fileSystems."/var/lib/immich".fsTyp'],
  ["storage-media-immich.nix", ["fileSystems", "/media/immich", "readOnly"], 'fileSystems."/media/immich".readOnly'],
  ["secrets.nix", ["sops", "secrets", "immich/db_password", "ownr"], 'sops.secrets."immich/db_password".ownr'],
  ["immich.nix", ["services", "immich", "prot"], "services.immich.prot"],
  ["nginx.nix", ["services", "nginx", "virtualHosts", "immich.skylab.local", "locations", "/", "proxyPas"],
    'services.nginx.virtualHosts."immich.skylab.local".locations."/".proxyPas'],
  ["cloudflared.nix", ["services", "cloudflared", "tunnels", "6ff42ae2-765d-4adf-8112-31c55c1551ef", "defualt"],
    'services.cloudflared.tunnels."6ff42ae2-765d-4adf-8112-31c55c1551ef".defualt'],
];

test.each(MISSPELT)("a misspelt option in %s fails with NixOS' wording, naming the option", (file, at, shown) => {
  const bodies = generatedBodies();
  bodies[file] = edited(bodies[file], at, "x");
  const result = evaluateNixos(configuration(bodies).file);
  expect(result.code).not.toBe(0);
  expect(errorOf(result.stderr)).toContain(`error: The option \`${shown}' does not exist. Definition values:`);
});

const MISTYPED: [string, string[], unknown, string, string][] = [
  ["storage-var-lib-immich.nix", ["fileSystems", "/var/lib/immich", "options"], "noatime", 'fileSystems."/var/lib/immich".options', "non-empty (list of string"],
  ["storage-media-immich.nix", ["fileSystems", "/media/immich", "fsType"], 1, 'fileSystems."/media/immich".fsType', "string (with check: non-empty)"],
  ["secrets.nix", ["sops", "secrets", "immich/db_password", "mode"], 400, 'sops.secrets."immich/db_password".mode', "string"],
  ["immich.nix", ["services", "immich", "port"], "2283", "services.immich.port", "16 bit unsigned integer"],
  ["nginx.nix", ["services", "nginx", "virtualHosts", "immich.skylab.local", "locations", "/", "proxyWebsockets"], "yes",
    'services.nginx.virtualHosts."immich.skylab.local".locations."/".proxyWebsockets', "boolean"],
  ["cloudflared.nix", ["services", "cloudflared", "tunnels", "6ff42ae2-765d-4adf-8112-31c55c1551ef", "credentialsFile"], 7,
    'services.cloudflared.tunnels."6ff42ae2-765d-4adf-8112-31c55c1551ef".credentialsFile', "string"],
];

test.each(MISTYPED)("a mistyped option in %s fails with NixOS' wording, naming the option and its type", (file, at, value, shown, type) => {
  const bodies = generatedBodies();
  bodies[file] = edited(bodies[file], at, value);
  const result = evaluateNixos(configuration(bodies).file);
  expect(result.code).not.toBe(0);
  const error = errorOf(result.stderr);
  expect(error).toContain(`A definition for option \`${shown}' is not of type \``);
  expect(error).toContain(type);
});

test("an owner's module setting services.immich.port = 3001 beside the program's 2283: NixOS names both files and values", () => {
  const owner = "modules/services/immich-owner.nix";
  const { file, dir } = configuration(generatedBodies(), {
    [owner]: "{ ... }:\n{\n  services.immich = {\n    enable = true;\n    port = 3001;\n    user = \"immich\";\n  };\n}\n",
  });
  const result = evaluateNixos(file);
  expect(result.code).not.toBe(0);
  const error = errorOf(result.stderr);
  expect(error).toContain("The option `services.immich.port' has conflicting definition values:");
  expect(error).toContain(`- In \`${path.join(dir, owner)}': 3001`);
  expect(error).toContain(`- In \`${path.join(dir, GENERATED, "immich.nix")}': 2283`);
});

test("an owner's module with the same values as the program's evaluates (identical definitions merge)", () => {
  const { file } = configuration(generatedBodies(), {
    "modules/services/immich-owner.nix": "{ ... }:\n{\n  services.immich = {\n    enable = true;\n    port = 2283;\n    user = \"immich\";\n    group = \"immich\";\n  };\n}\n",
  });
  const result = evaluateNixos(file);
  expect(result.stderr).not.toContain("error:");
  expect(result.code).toBe(0);
});

test("without the pinned nixpkgs subset, sandbox:up refuses with the setting and the fix, and leaves nothing", () => {
  const name = `nooracle${process.pid}`;
  const result = spawnSync("bash", [path.join(REPO_ROOT, "sandbox/sandbox.sh"), "up", "--name", name], {
    encoding: "utf8", env: { ...process.env, SKYLAB_NIXPKGS_ORACLE: path.join(root, "missing") },
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain(`the pinned nixpkgs subset is missing: no check.nix and lib/ in ${path.join(root, "missing")}`);
  expect(result.stderr).toContain("set SKYLAB_NIXPKGS_ORACLE");
  expect(spawnSync("test", ["-e", path.join(REPO_ROOT, ".sandbox", name)]).status).toBe(1);
});

describe("the host look's question to NixOS (lib/remote/owner-definitions.nix), on the real module system", () => {
  /** A nixpkgs folder as NixOS' root channel has it: `lib` and `nixos/default.nix` (the sandbox's channel shape). */
  function channel(): string {
    const dir = path.join(root, `channel-${++counter}`);
    mkdirSync(path.join(dir, "nixos"), { recursive: true });
    spawnSync("ln", ["-s", path.join(nixpkgsOracle(), "lib"), path.join(dir, "lib")]);
    writeFileSync(path.join(dir, "nixos/default.nix"), `{ configuration }:
let inherit (import ${path.join(REPO_ROOT, "sandbox/standin/nixos-eval.nix")} { oracle = ${nixpkgsOracle()}; inherit configuration; }) eval;
in { inherit (eval) config options; }
`);
    return dir;
  }

  test("the owner's definitions with their files and values; NixOS' own and the generated folder's left out; unknown options missing", () => {
    const owner = "modules/services/immich-owner.nix";
    const { file, dir } = configuration(generatedBodies(), {
      [owner]: "{ ... }:\n{\n  services.immich = {\n    enable = true;\n    port = 3001;\n    environment.TZ = lib.mkIf true \"Europe/Paris\";\n  };\n}\n".replace("{ ... }", "{ lib, ... }"),
    });
    const request = {
      generatedDir: GENERATED,
      paths: [["services", "immich", "port"], ["services", "immich", "enable"], ["users", "groups", "immich"], ["services", "immich", "environment", "TZ"], ["services", "nope", "x"]],
    };
    const result = spawnSync("nix-instantiate", [
      "--eval", "--strict", "--json", "--readonly-mode", "-E", readFileSync(path.join(REPO_ROOT, "lib/remote/owner-definitions.nix"), "utf8"),
      "--arg", "nixpkgs", channel(), "--arg", "configuration", file, "--argstr", "request", JSON.stringify(request), "--argstr", "repo", dir,
    ], { encoding: "utf8" });
    expect(result.stderr).not.toContain("error:");
    const at = path.join(dir, owner);
    expect(JSON.parse(result.stdout)).toEqual([
      { path: ["services", "immich", "port"], option: ["services", "immich", "port"], definitions: [{ file: at, value: 3001 }] },
      { path: ["services", "immich", "enable"], option: ["services", "immich", "enable"], definitions: [{ file: at, value: true }] },
      // nixpkgs' immich module defines users.groups.immich; it is NixOS', not the owner's.
      { path: ["users", "groups", "immich"], option: ["users"], definitions: [] },
      { path: ["services", "immich", "environment", "TZ"], option: ["services", "immich", "environment"], definitions: [{ file: at, value: { $nonData: "if" } }] },
      { path: ["services", "nope", "x"], missing: true },
    ]);
  });
});
