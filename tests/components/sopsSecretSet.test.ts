/**
 * components/shell/sops-secret-set.sh run here with the real sops and age, as the provider runs it (the loaded
 * script behind its value preamble, the value on standard input as SopsSecret sends it): any value, control
 * characters included, arrives in the sops file byte for byte; the same value again changes nothing.
 */
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import path from "path";
import { sopsSetInput } from "../../components/SopsSecret";
import { loadScript } from "../../components/shell";
import { scriptWithArgs } from "../../lib/remote/shell";

const SOPS = path.resolve(__dirname, "../../.tools/bin/sops");
const SCRIPT = loadScript("sops-secret-set.sh");
let dir: string;

function sh(command: string, args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(command, args, { cwd: dir, encoding: "utf8", input, env: { ...process.env, PATH: `${path.dirname(SOPS)}:${process.env.PATH}`, ...env } });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function decrypt(): Buffer {
  const r = spawnSync(SOPS, ["decrypt", "--extract", '["tunnel"]["credentials"]', "secrets/secrets.yaml"], {
    cwd: dir, env: { ...process.env, SOPS_AGE_KEY_FILE: path.join(dir, "key.txt"), SOPS_DISABLE_VERSION_CHECK: "true" },
  });
  if (r.status !== 0) throw new Error(String(r.stderr));
  return r.stdout;
}

function setValue(input: string) {
  return sh("bash", ["-c", scriptWithArgs(SCRIPT, {
    REPO: dir, SOPS_FILE: "secrets/secrets.yaml", KEY_PATH: "tunnel/credentials", AGE_KEY_FILE: path.join(dir, "key.txt"),
    GENERATE: "false", STATE_DIR: path.join(dir, "state"),
  })], input);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "sops-set-"));
  expect(sh("age-keygen", ["-o", "key.txt"]).code).toBe(0);
  const recipient = sh("age-keygen", ["-y", "key.txt"]).stdout.trim();
  writeFileSync(path.join(dir, ".sops.yaml"), `creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: ${recipient}\n`);
  sh("mkdir", ["-p", "secrets"]);
  writeFileSync(path.join(dir, "plain.yaml"), "wifi:\n    psk: x\n");
  const enc = sh(SOPS, ["encrypt", "--filename-override", "secrets/secrets.yaml", "plain.yaml"], undefined, { SOPS_DISABLE_VERSION_CHECK: "true" });
  expect(enc.code).toBe(0);
  writeFileSync(path.join(dir, "secrets/secrets.yaml"), enc.stdout);
  for (const args of [["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]]) {
    expect(sh("git", args).code).toBe(0);
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VALUES: [string, string][] = [
  ["a credentials JSON with its final line break", '{\n  "AccountTag": "a",\n  "TunnelID": "6ff42ae2"\n}\n'],
  ["tabs, quotes, backslashes, ${ and control characters", 'a\tb "q" \\ ${x} \u0001\u001f end\n\n'],
  ["unicode", "pässwörd ✓ 🐚"],
];

test.each(VALUES)("%s: arrives byte for byte; the same value again changes nothing", (_name, value) => {
  const set = setValue(sopsSetInput(value));
  expect(set.stderr).toBe("");
  expect(set.code).toBe(0);
  expect(decrypt().equals(Buffer.from(value, "utf8"))).toBe(true);
  const before = readFileSync(path.join(dir, "secrets/secrets.yaml"), "utf8");
  const again = setValue(sopsSetInput(value));
  expect(again.stdout).toContain("no change: tunnel/credentials already has the configured value");
  expect(readFileSync(path.join(dir, "secrets/secrets.yaml"), "utf8")).toBe(before);
});

test("positive control: the value quoted by the shell's own escaping (backslash and quote only) is refused by sops for a line break", () => {
  const value = '{\n  "TunnelID": "x"\n}\n';
  const naive = `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  const r = sh(SOPS, ["set", "--value-stdin", "secrets/secrets.yaml", '["tunnel"]["credentials"]'], naive, {
    SOPS_AGE_KEY_FILE: path.join(dir, "key.txt"), SOPS_DISABLE_VERSION_CHECK: "true",
  });
  expect(r.code).not.toBe(0);
});

test("no value on standard input: refused, nothing written", () => {
  const before = readFileSync(path.join(dir, "secrets/secrets.yaml"), "utf8");
  const r = setValue("");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("no value for tunnel/credentials on standard input (expected its sha256 and a JSON string)");
  expect(readFileSync(path.join(dir, "secrets/secrets.yaml"), "utf8")).toBe(before);
});
