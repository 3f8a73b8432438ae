import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { SshConnection } from "../../../lib/remote/ssh";
import { controlFolderPath, controlPath, privateControlFolder, processRuns, runKey } from "../../../lib/remote/sshMaster";

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8Jt0b6pQ2ZbXv2zU6b1kV3mZ0nS8rQ5fW1yH7cE9d";

function connection(overrides: Partial<SshConnection> = {}): SshConnection {
  return { host: "192.168.1.20", port: 22, user: "root", hostKey: ED25519, privateKey: "unused", become: "none", ...overrides };
}

describe("runKey: the engine's address, as the program and a provider each get it", () => {
  test.each<[string, NodeJS.ProcessEnv, string[], string | undefined]>([
    ["the program: PULUMI_NODEJS_ENGINE", { PULUMI_NODEJS_ENGINE: "127.0.0.1:40123" }, ["node", "run.js", "--monitor"], "127.0.0.1:40123"],
    ["a dynamic provider: its first argument", {}, ["node", "dynamic-provider", "127.0.0.1:40123"], "127.0.0.1:40123"],
    ["the program's variable wins over an argument", { PULUMI_NODEJS_ENGINE: "127.0.0.1:1" }, ["node", "x", "127.0.0.1:2"], "127.0.0.1:1"],
    ["outside the engine: none", {}, ["node", "jest"], undefined],
    ["an argument that is not an address: none", {}, ["node", "x", "--engine=127.0.0.1:40123"], undefined],
    ["a variable that is not an address: none", { PULUMI_NODEJS_ENGINE: "somewhere" }, ["node", "x"], undefined],
  ])("%s", (_name, env, argv, expected) => {
    expect(runKey(env, argv)).toBe(expected);
  });
});

describe("controlPath", () => {
  const folder = "/tmp/skylab-immich-ssh-0";
  const base = controlPath(connection(), "127.0.0.1:40123", folder)!;

  test("a 32-hex name in the folder, the same for the same run and connection", () => {
    expect(base).toMatch(/^\/tmp\/skylab-immich-ssh-0\/[0-9a-f]{32}$/);
    expect(controlPath(connection(), "127.0.0.1:40123", folder)).toBe(base);
  });

  test.each<[string, Partial<SshConnection>]>([
    ["another host", { host: "192.168.1.21" }],
    ["another port", { port: 2222 }],
    ["another user", { user: "admin" }],
    ["another host key", { hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKd7x9kq0ZfV8tQ3mPp5vN2wY7cR4sL6hJ1aB3eD5fG7" }],
  ])("%s: another socket (a master is only reused for exactly what it pinned)", (_name, change) => {
    expect(controlPath(connection(change), "127.0.0.1:40123", folder)).not.toBe(base);
  });

  test("another run: another socket", () => {
    expect(controlPath(connection(), "127.0.0.1:40124", folder)).not.toBe(base);
  });

  test("the host key's comment and whitespace do not matter; the private key and become do not either", () => {
    expect(controlPath(connection({ hostKey: `  ${ED25519} root@skylab ` }), "127.0.0.1:40123", folder)).toBe(base);
    expect(controlPath(connection({ privateKey: "other", become: "sudo" }), "127.0.0.1:40123", folder)).toBe(base);
  });

  test.each<[string, string]>([
    ["too long for a socket (with the 17 bytes ssh adds while binding)", `/tmp/${"d".repeat(60)}`],
    ["a % (ssh would expand it)", "/tmp/100%/skylab-immich-ssh-0"],
    ["a space (ssh would split the option)", "/tmp/my dir/skylab-immich-ssh-0"],
  ])("a folder path with %s: no sharing", (_name, dir) => {
    expect(controlPath(connection(), "127.0.0.1:40123", dir)).toBeUndefined();
  });

  test("the longest folder that still fits: 90 bytes in all", () => {
    const dir = `/${"d".repeat(90 - 34)}`;
    expect(controlPath(connection(), "k", dir)).toHaveLength(90);
    expect(controlPath(connection(), "k", `${dir}d`)).toBeUndefined();
  });
});

describe("privateControlFolder", () => {
  let base: string;
  const uid = process.getuid!();

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), "skylab-ctl-test-"));
  });

  afterEach(() => rmSync(base, { recursive: true, force: true }));

  test("created 0700 when missing, then reused", () => {
    const dir = privateControlFolder(base);
    expect(dir).toBe(join(base, `skylab-immich-ssh-${uid}`));
    expect(lstatSync(dir!).mode & 0o777).toBe(0o700);
    expect(privateControlFolder(base)).toBe(dir);
  });

  test("the name carries the uid", () => {
    expect(controlFolderPath("/tmp", 1000)).toBe("/tmp/skylab-immich-ssh-1000");
  });

  test("open to others: refused", () => {
    const dir = controlFolderPath(base, uid);
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o750);
    expect(privateControlFolder(base)).toBeUndefined();
  });

  test("a symlink to a private folder: refused (someone else chose where it points)", () => {
    const real = join(base, "elsewhere");
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, controlFolderPath(base, uid));
    expect(privateControlFolder(base)).toBeUndefined();
  });

  // Giving a folder away takes root.
  (uid === 0 ? test : test.skip)("owned by another user: refused", () => {
    const dir = controlFolderPath(base, uid);
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, uid + 1234, uid + 1234);
    expect(privateControlFolder(base)).toBeUndefined();
  });

  test("the base folder missing: no folder, no throw", () => {
    expect(privateControlFolder(join(base, "missing"))).toBeUndefined();
  });
});

describe("processRuns", () => {
  test("this process runs; a pid that does not exist does not", () => {
    expect(processRuns(process.pid)).toBe(true);
    expect(processRuns(2 ** 22 + 1)).toBe(false);
  });
});
