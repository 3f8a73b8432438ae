/**
 * Proves that a sandbox is reachable exactly the way the program connects (pinned host key, client
 * key, root and sudo-capable admin user) and that making it leaves this machine's own files alone.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { readConnection, sandboxDown, sandboxSsh, sandboxUp, SandboxConnection } from "../../sandbox";
import { host, uniqueName } from "./host";

const name = uniqueName("access");
let connection: SandboxConnection;
const hostPasswd = readFileSync("/etc/passwd", "utf8");

function acceptedLogins(): number {
  return (readFileSync(connection.sshdLog, "utf8").match(/Accepted publickey for /g) ?? []).length;
}

beforeAll(async () => {
  connection = await sandboxUp(name);
});

afterAll(async () => {
  await sandboxDown(name);
});

test("connection.json describes the sandbox", () => {
  expect(readConnection(name)).toEqual(connection);
  expect(connection.name).toBe(name);
  expect(connection.address).toMatch(/^10\.231\.\d{1,3}\.2$/);
  expect(connection.hostAddress).toBe(connection.address.replace(/\.2$/, ".1"));
  expect(connection.port).toBe(22);
  expect(connection.users).toEqual(["root", "skyadmin"]);
  expect(connection.configRepo).toBe("/etc/nixos");
  expect(connection.mediasDevice).toMatch(/^\/dev\/loop\d+$/);
  const hostKeyFile = readFileSync(path.join(connection.stateDir, "ssh_host_ed25519_key.pub"), "utf8");
  expect(connection.hostPublicKey).toBe(hostKeyFile.split(" ").slice(0, 2).join(" "));
  expect(connection.hostPublicKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
  expect(readFileSync(connection.knownHostsPath, "utf8")).toBe(`${connection.address} ${connection.hostPublicKey}\n`);
});

test("root logs in with the client key and the pinned host key", async () => {
  const before = acceptedLogins();
  const result = await sandboxSsh(name, "id -un; hostname");
  expect(result).toEqual({ stdout: "root\nskylab\n", stderr: "", code: 0 });
  expect(acceptedLogins()).toBe(before + 1);
});

test("the admin user is not root but becomes root with sudo -n", async () => {
  const result = await sandboxSsh(name, "id -un; sudo -n id -un; sudo -n true && echo sudo-ok", { user: "skyadmin" });
  expect(result.stdout).toBe("skyadmin\nroot\nsudo-ok\n");
  expect(result.code).toBe(0);
});

test("stdin reaches the remote command", async () => {
  const result = await sandboxSsh(name, "sha256sum", { input: "poem\n" });
  expect(result.stdout.split(" ")[0]).toBe(host("sha256sum", [], "poem\n").stdout.split(" ")[0]);
});

test("a connection pinning a different host key is refused before authentication", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sandbox-wrong-key-"));
  try {
    host("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "other")]);
    const otherKey = readFileSync(path.join(dir, "other.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    writeFileSync(path.join(dir, "known_hosts"), `${connection.address} ${otherKey}\n`);
    const before = acceptedLogins();
    const result = host("ssh", [
      "-F", "none", "-i", connection.privateKeyPath, "-o", "IdentitiesOnly=yes",
      "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`,
      "-o", "GlobalKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "--", `root@${connection.address}`, "true",
    ]);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
    expect(result.stderr).toContain("Host key verification failed.");
    expect(acceptedLogins()).toBe(before);

    // Positive control: the same command with the real pinned key gets in.
    const control = host("ssh", [
      "-F", "none", "-i", connection.privateKeyPath, "-o", "IdentitiesOnly=yes",
      "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${connection.knownHostsPath}`,
      "-o", "GlobalKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "--", `root@${connection.address}`, "true",
    ]);
    expect(control.code).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("password and unknown-key logins are refused", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sandbox-other-client-"));
  try {
    host("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "stranger")]);
    const result = host("ssh", [
      "-F", "none", "-i", path.join(dir, "stranger"), "-o", "IdentitiesOnly=yes",
      "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${connection.knownHostsPath}`,
      "-o", "BatchMode=yes", "--", `root@${connection.address}`, "true",
    ]);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain("Permission denied (publickey)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the sandbox's users, NixOS files and state exist only in its own view", async () => {
  const inside = await sandboxSsh(name, "grep -c '^skyadmin:' /etc/passwd; test -f /etc/NIXOS && test -d /etc/nixos/.git && test -d /var/lib/immich && test -d /home/zipang && test -L /dev/disk/by-label/MEDIAS && echo present");
  expect(inside.stdout).toBe("1\npresent\n");
  expect(readFileSync("/etc/passwd", "utf8")).toBe(hostPasswd);
  for (const hostPath of ["/etc/NIXOS", "/etc/nixos", "/var/lib/immich", "/home/zipang", "/dev/disk", "/var/lib/sops-nix", "/run/secrets", "/run/current-system"]) {
    expect([hostPath, existsSync(hostPath)]).toEqual([hostPath, false]);
  }
});

test("the repository and its client keys are not visible inside", async () => {
  const result = await sandboxSsh(name, `ls -A ${JSON.stringify(path.resolve(__dirname, "../.."))} | wc -l`);
  expect(result.stdout).toBe("0\n");
});

test("up on a healthy sandbox changes nothing and says so", () => {
  const result = host("bash", [path.resolve(__dirname, "../../sandbox/sandbox.sh"), "up", "--name", name]);
  expect(result.code).toBe(0);
  expect(result.stderr).toBe(`sandbox ${name} is already up\n`);
  expect(JSON.parse(result.stdout)).toEqual(connection);
});
