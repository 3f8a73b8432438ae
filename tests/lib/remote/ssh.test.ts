import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

// Jest gives each test file a copy of process.env that core modules never see, so the seams are mocked
// instead: os.tmpdir (where runRemoteScript writes the key) and the environment ssh is spawned with.
let mockTmpdir: string | undefined;
let mockSpawnEnv: Record<string, string> = {};
const mockSpawnCalls: string[][] = [];
jest.mock("os", () => {
  const actual = jest.requireActual("os");
  return { ...actual, tmpdir: () => mockTmpdir ?? actual.tmpdir() };
});
jest.mock("child_process", () => {
  const actual = jest.requireActual("child_process");
  return {
    ...actual,
    spawn: (command: string, args: string[], options: Record<string, unknown>) => {
      mockSpawnCalls.push([command, ...args]);
      // The test's additions go over the environment the code chose for the child.
      return actual.spawn(command, args, { ...options, env: { ...((options.env as NodeJS.ProcessEnv) ?? process.env), ...mockSpawnEnv } });
    },
  };
});
import {
  controlOptions,
  describeSshFailure,
  knownHostsLine,
  remoteCommand,
  runRemoteScript,
  SSH_FAILURE_EXIT_CODE,
  TIMEOUT_EXIT_CODE,
  SshConnection,
  sshArguments,
} from "../../../lib/remote/ssh";

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8Jt0b6pQ2ZbXv2zU6b1kV3mZ0nS8rQ5fW1yH7cE9d";

function connection(overrides: Partial<SshConnection> = {}): SshConnection {
  return {
    host: "192.168.1.20",
    port: 22,
    user: "root",
    hostKey: ED25519,
    privateKey: "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----",
    become: "none",
    ...overrides,
  };
}

describe("knownHostsLine", () => {
  test.each<[string, string, number, string, string]>([
    ["port 22: the bare host", "192.168.1.20", 22, ED25519, `192.168.1.20 ${ED25519}\n`],
    ["another port: [host]:port", "skylab.local", 2222, ED25519, `[skylab.local]:2222 ${ED25519}\n`],
    [
      "the key's comment and surrounding whitespace are dropped",
      "skylab.local", 22, `  ${ED25519}   root@skylab \n`, `skylab.local ${ED25519}\n`,
    ],
    [
      "an ECDSA key keeps its type",
      "10.0.0.1", 22, "ecdsa-sha2-nistp256 AAAAE2VjZHNh", "10.0.0.1 ecdsa-sha2-nistp256 AAAAE2VjZHNh\n",
    ],
  ])("%s", (_name, host, port, hostKey, expected) => {
    expect(knownHostsLine(host, port, hostKey)).toBe(expected);
  });
});

describe("sshArguments", () => {
  test("exact arguments: no user or system config, pinned host key and algorithm, port and user", () => {
    expect(sshArguments(connection({ port: 2222, user: "admin" }), "/tmp/x/id", "/tmp/x/known_hosts")).toStrictEqual([
      "-F", "/dev/null",
      "-o", "BatchMode=yes",
      "-o", "IdentitiesOnly=yes",
      "-o", "IdentityFile=/tmp/x/id",
      "-o", "UserKnownHostsFile=/tmp/x/known_hosts",
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "StrictHostKeyChecking=yes",
      "-o", "HostKeyAlgorithms=ssh-ed25519",
      "-o", "ConnectTimeout=15",
      "-o", "ServerAliveInterval=10",
      "-o", "ServerAliveCountMax=3",
      "-o", "LogLevel=ERROR",
      "-p", "2222",
      "-l", "admin",
      "192.168.1.20",
    ]);
  });

  test("connection-sharing options go after the pinning options, before port, user and host", () => {
    const args = sshArguments(connection(), "k", "h", ["-o", "ControlMaster=no", "-o", "ControlPath=/run/ctl/x"]);
    expect(args.slice(-11)).toStrictEqual([
      "-o", "LogLevel=ERROR",
      "-o", "ControlMaster=no",
      "-o", "ControlPath=/run/ctl/x",
      "-p", "22",
      "-l", "root",
      "192.168.1.20",
    ]);
  });

  test("HostKeyAlgorithms follows the pinned key's type (an RSA key, with leading whitespace)", () => {
    const args = sshArguments(connection({ hostKey: "  ssh-rsa AAAAB3NzaC1yc2E comment" }), "k", "h");
    expect(args.filter((a) => a.startsWith("HostKeyAlgorithms="))).toStrictEqual(["HostKeyAlgorithms=ssh-rsa"]);
  });
});

describe("controlOptions", () => {
  test.each<[string, string | undefined, boolean, string[]]>([
    ["no control path: a connection of its own, whatever a config might say", undefined, false, ["-o", "ControlPath=none"]],
    ["no control path, master asked: still none", undefined, true, ["-o", "ControlPath=none"]],
    ["a step: a client of the master only", "/tmp/c/ab", false, ["-o", "ControlMaster=no", "-o", "ControlPath=/tmp/c/ab"]],
    [
      "the look: the master, kept while idle for the net's seconds",
      "/tmp/c/ab", true, ["-o", "ControlMaster=yes", "-o", "ControlPath=/tmp/c/ab", "-o", "ControlPersist=30"],
    ],
  ])("%s", (_name, path, master, expected) => {
    expect(controlOptions(path, master)).toStrictEqual(expected);
  });
});

describe("remoteCommand", () => {
  const script = "set -euo pipefail\necho 'it works'\n";

  test("as root: bash -c with the script as one quoted word", () => {
    expect(remoteCommand(script, "none")).toBe("'bash' '-c' 'set -euo pipefail\necho '\\''it works'\\''\n'");
  });

  test("through sudo: non-interactive, options ended before bash", () => {
    expect(remoteCommand(script, "sudo")).toBe("'sudo' '-n' '--' 'bash' '-c' 'set -euo pipefail\necho '\\''it works'\\''\n'");
  });
});

describe("describeSshFailure", () => {
  const conn = connection({ host: "skylab.local", port: 2222, user: "admin" });

  test.each<[string, string, string]>([
    [
      "host key mismatch",
      "@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@\nHost key verification failed.\n",
      "the host key of skylab.local:2222 does not match `host.hostKey`: check it with `ssh-keyscan` on a trusted network and update the stack config",
    ],
    [
      "host key of another type only",
      "No ED25519 host key is known for [skylab.local]:2222 and you have requested strict checking.\nHost key verification failed.\n",
      "the host key of skylab.local:2222 does not match `host.hostKey`: check it with `ssh-keyscan` on a trusted network and update the stack config",
    ],
    [
      "permission denied",
      "admin@skylab.local: Permission denied (publickey).\n",
      "admin@skylab.local refused the key in `sshPrivateKey`: add its public key to the user's authorized_keys",
    ],
    [
      "anything else: the last line of stderr",
      "some warning\nssh: connect to host skylab.local port 2222: No route to host\n",
      "could not reach admin@skylab.local:2222 over SSH: ssh: connect to host skylab.local port 2222: No route to host",
    ],
    ["empty stderr", "", "could not reach admin@skylab.local:2222 over SSH: "],
  ])("%s", (_name, stderr, expected) => {
    expect(describeSshFailure(conn, stderr)).toBe(expected);
  });
});

/** Runs `body` with os.tmpdir() at a fresh folder; returns the folder and what is left in it afterwards. */
async function inFreshTmpdir<T>(body: () => Promise<T>): Promise<{ result: T; dir: string; leftOver: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "skylab-ssh-test-"));
  mockTmpdir = dir;
  try {
    const result = await body();
    return { result, dir, leftOver: readdirSync(dir) };
  } finally {
    mockTmpdir = undefined;
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("runRemoteScript against the real ssh client", () => {
  test("connection refused on 127.0.0.1 port 1: exit 255, and describeSshFailure names the cause", async () => {
    const conn = connection({ host: "127.0.0.1", port: 1 });
    const lines: string[] = [];
    mockSpawnCalls.length = 0;
    const { result, dir, leftOver } = await inFreshTmpdir(() =>
      runRemoteScript(conn, "echo never\n", { timeoutMs: 20_000, onStderrLine: (line) => lines.push(line) }),
    );
    expect(mockSpawnCalls.map((call) => call[0])).toStrictEqual(["ssh"]);
    expect(result.code).toBe(SSH_FAILURE_EXIT_CODE);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim()).toBe("ssh: connect to host 127.0.0.1 port 1: Connection refused");
    expect(describeSshFailure(conn, result.stderr)).toBe(
      "could not reach root@127.0.0.1:1 over SSH: ssh: connect to host 127.0.0.1 port 1: Connection refused",
    );
    expect(lines).toStrictEqual(["ssh: connect to host 127.0.0.1 port 1: Connection refused"]);
    // The private key file and known_hosts were in a temporary folder (in the fresh folder) that is gone.
    expect(mockSpawnCalls[0][8]).toMatch(new RegExp(`^IdentityFile=${dir}/skylab-ssh-[^/]+/id$`));
    expect(leftOver).toStrictEqual([]);
  }, 30_000);
});

describe("runRemoteScript with a fake ssh on PATH (what reaches ssh, without a server)", () => {
  let binDir: string;
  let captureDir: string;
  // Loopback only: should the fake not be picked up, the real ssh stays on this machine.
  const local = (overrides: Partial<SshConnection> = {}) => connection({ host: "127.0.0.1", ...overrides });

  beforeAll(() => {
    binDir = mkdtempSync(join(tmpdir(), "skylab-fake-ssh-"));
    // Records its argv, the key and known_hosts files it was pointed at (with the key's mode) and stdin.
    writeFileSync(
      join(binDir, "ssh"),
      [
        "#!/usr/bin/env bash",
        "out=$FAKE_SSH_OUT",
        "printf '%s\\0' \"$@\" >\"$out/argv\"",
        "env >\"$out/env\"",
        "for a in \"$@\"; do",
        "  case $a in",
        "    IdentityFile=*) cp \"${a#IdentityFile=}\" \"$out/key\"; stat -c %a \"${a#IdentityFile=}\" >\"$out/key.mode\" ;;",
        "    UserKnownHostsFile=*) cp \"${a#UserKnownHostsFile=}\" \"$out/known_hosts\" ;;",
        "  esac",
        "done",
        "cat >\"$out/stdin\"",
        "if [ -n \"${FAKE_SSH_SLEEP:-}\" ]; then exec sleep \"$FAKE_SSH_SLEEP\"; fi",
        "printf 'stdout line\\n'",
        "printf 'progress: one\\nnoise\\r\\n\\nprogress: two' >&2",
        "exit \"${FAKE_SSH_EXIT:-0}\"",
        "",
      ].join("\n"),
    );
    chmodSync(join(binDir, "ssh"), 0o755);
  });

  beforeEach(() => {
    captureDir = mkdtempSync(join(tmpdir(), "skylab-fake-ssh-out-"));
    mockSpawnEnv = { PATH: `${binDir}:${process.env.PATH}`, FAKE_SSH_OUT: captureDir };
  });

  afterEach(() => {
    mockSpawnEnv = {};
    rmSync(captureDir, { recursive: true, force: true });
  });

  afterAll(() => rmSync(binDir, { recursive: true, force: true }));

  test("argv is sshArguments + remoteCommand; key (mode 600, newline added), known_hosts and stdin as given", async () => {
    const conn = local({ port: 2222, become: "sudo", user: "admin" });
    const lines: string[] = [];
    const { result, dir, leftOver } = await inFreshTmpdir(() =>
      runRemoteScript(conn, "echo hi\n", { stdin: "s3cret\nvalue", onStderrLine: (line) => lines.push(line) }),
    );
    const argv = readFileSync(join(captureDir, "argv"), "utf8").split("\0").slice(0, -1);
    const tempFolder = argv[7].slice("IdentityFile=".length).replace(/\/id$/, "");
    expect(tempFolder).toMatch(new RegExp(`^${dir}/skylab-ssh-[^/]+$`));
    expect(argv).toStrictEqual([
      ...sshArguments(conn, `${tempFolder}/id`, `${tempFolder}/known_hosts`, ["-o", "ControlPath=none"]),
      remoteCommand("echo hi\n", "sudo"),
    ]);
    expect(readFileSync(join(captureDir, "key"), "utf8")).toBe(`${conn.privateKey}\n`);
    expect(readFileSync(join(captureDir, "key.mode"), "utf8")).toBe("600\n");
    expect(readFileSync(join(captureDir, "known_hosts"), "utf8")).toBe(`[127.0.0.1]:2222 ${ED25519}\n`);
    expect(readFileSync(join(captureDir, "stdin"), "utf8")).toBe("s3cret\nvalue");
    // The secret on stdin is nowhere in the command line.
    expect(argv.join(" ")).not.toContain("s3cret");
    expect(result).toStrictEqual({ stdout: "stdout line\n", stderr: "progress: one\nnoise\r\n\nprogress: two", code: 0 });
    // Complete lines as they come (CRLF too, blank ones skipped), the unterminated last one at the end.
    expect(lines).toStrictEqual(["progress: one", "noise", "progress: two"]);
    // The key file is gone with its folder.
    expect(leftOver).toStrictEqual([]);
  });

  test("ssh gets a minimal environment: nothing of the program's (PULUMI_CONFIG holds decrypted config)", async () => {
    process.env.PULUMI_CONFIG = '{"skylab-immich:dbPassword":"Env9-poison"}';
    process.env.SKYLAB_TEST_MARKER = "Env9-poison";
    try {
      await runRemoteScript(local(), "true\n");
      const env = readFileSync(join(captureDir, "env"), "utf8");
      // Positive control: the marker is in this process's environment, where the search can find it.
      expect(JSON.stringify(process.env)).toContain("Env9-poison");
      expect(env).not.toContain("Env9-poison");
      const names = env.split("\n").filter(Boolean).map((line) => line.split("=")[0]);
      // The fake ssh's own additions (FAKE_SSH_OUT, and PATH made to find it) plus what ssh needs.
      expect(names.filter((n) => !["FAKE_SSH_OUT", "PWD", "SHLVL", "_", "OLDPWD"].includes(n)).sort()).toStrictEqual(["HOME", "LANG", "PATH"]);
    } finally {
      delete process.env.PULUMI_CONFIG;
      delete process.env.SKYLAB_TEST_MARKER;
    }
  });

  test("the script's exit code is passed through; no stdin means empty stdin", async () => {
    mockSpawnEnv.FAKE_SSH_EXIT = "3";
    const result = await runRemoteScript(local(), "exit 3\n");
    expect(result.code).toBe(3);
    expect(readFileSync(join(captureDir, "stdin"), "utf8")).toBe("");
  });

  test("timeoutMs stops a script that hangs", async () => {
    mockSpawnEnv.FAKE_SSH_SLEEP = "30";
    // Without the timeout the fake ssh would sleep 30 s, past this test's own 20 s limit.
    const result = await runRemoteScript(local(), "sleep 30\n", { timeoutMs: 300 });
    expect(readFileSync(join(captureDir, "stdin"), "utf8")).toBe("");
    expect(result.code).toBe(TIMEOUT_EXIT_CODE);
    expect(result.stderr).toMatch(/timed out after 300 ms\n$/);
  }, 20_000);

  test("a control path: the step is a client of the master (ControlMaster=no), the master option adds ControlPersist", async () => {
    await runRemoteScript(local(), "true\n", { controlPath: "/tmp/skylab-immich-ssh-0/abc" });
    const client = readFileSync(join(captureDir, "argv"), "utf8").split("\0");
    expect(client.filter((a) => a.startsWith("Control"))).toStrictEqual(["ControlMaster=no", "ControlPath=/tmp/skylab-immich-ssh-0/abc"]);
    await runRemoteScript(local(), "true\n", { controlPath: "/tmp/skylab-immich-ssh-0/abc", master: true });
    const master = readFileSync(join(captureDir, "argv"), "utf8").split("\0");
    expect(master.filter((a) => a.startsWith("Control"))).toStrictEqual([
      "ControlMaster=yes", "ControlPath=/tmp/skylab-immich-ssh-0/abc", "ControlPersist=30",
    ]);
  });

  test("ssh missing from PATH: rejects with a message that says so", async () => {
    const emptyDir = join(captureDir, "empty-bin");
    mkdirSync(emptyDir);
    mockSpawnEnv.PATH = emptyDir;
    await expect(runRemoteScript(local(), "true\n")).rejects.toThrow(
      "could not start ssh: spawn ssh ENOENT (is openssh-client installed?)",
    );
  });
});
