import { execFileSync } from "child_process";
import { createHash } from "crypto";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderModuleJson } from "../../../lib/nix";
import { loadShellScript } from "../../../lib/remote/scripts";
import { scriptWithArgs } from "../../../lib/remote/shell";
import { IN_SYNC, RemoteScriptProps } from "../../../providers/remoteScript/props";
import { checkInputs as checkedInputs, diffScripts } from "../../../providers/remoteScript/diff";
import { observedLocation, parseObservation, read, recordObservation } from "../../../providers/remoteScript/read";
import { checkInputs } from "../../../providers/remoteScript/runtime";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const PRIVATE_KEY = "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nkey\n-----END OPENSSH PRIVATE KEY-----\n";
const MODULE = { value: "CONTENT", generator: "NginxVhost", body: { services: { nginx: { enable: true } } } };
const WRITTEN = renderModuleJson(MODULE);
const PATH = "modules/generated/skylab-immich/nginx.nix";

/** A module file's outputs as the last up stored them. */
function moduleFile(): RemoteScriptProps {
  return {
    connection: { host: "192.168.1.20", port: 22, user: "root", hostKey: "ssh-ed25519 AAAAC3Nz", privateKey: PRIVATE_KEY, become: "none" },
    description: `NixOS module ${PATH}`,
    create: "set -euo pipefail\necho write\n",
    values: { REPO: "/etc/nixos", RELPATH: PATH, MARKER: "# Generated" },
    module: MODULE,
    observedFile: { sha256: sha256(WRITTEN), path: PATH },
    drift: IN_SYNC,
    logOutput: true,
    stdout: "wrote",
    moduleSha256: sha256(WRITTEN),
  };
}

describe("recordObservation", () => {
  test("the file as the last up wrote it: the props come back equal (a refresh records nothing)", () => {
    expect(recordObservation(moduleFile(), { sha256: sha256(WRITTEN), text: WRITTEN })).toStrictEqual(moduleFile());
  });

  test("edited by hand: the observation with its text, and drift naming the lines up puts back", () => {
    const edited = `${WRITTEN}# edited by hand\n`;
    const recorded = recordObservation(moduleFile(), { sha256: sha256(edited), text: edited });
    const lines = WRITTEN.split("\n").length;
    expect(recorded).toStrictEqual({
      ...moduleFile(),
      observedFile: { sha256: sha256(edited), path: PATH, text: edited },
      drift: `${PATH} was edited on the host; up puts back:\n@@ line ${lines}\n-# edited by hand`,
    });
  });

  test("edited, text too large to read: the digest and a drift without lines", () => {
    expect(recordObservation(moduleFile(), { sha256: "a".repeat(64) })).toStrictEqual({
      ...moduleFile(), observedFile: { sha256: "a".repeat(64), path: PATH }, drift: `${PATH} was edited on the host`,
    });
  });

  test("deleted: sha256 null and drift saying so", () => {
    expect(recordObservation(moduleFile(), { sha256: null })).toStrictEqual({
      ...moduleFile(), observedFile: { sha256: null, path: PATH }, drift: `${PATH} was deleted on the host`,
    });
  });

  test("the private key is returned as given, and nothing else is added", () => {
    const recorded = recordObservation(moduleFile(), { sha256: null });
    expect(recorded.connection).toStrictEqual(moduleFile().connection);
    expect(Object.keys(recorded).sort()).toStrictEqual(Object.keys(moduleFile()).sort());
  });
});

describe("observedLocation", () => {
  test("a module file: its repo and path", () => {
    expect(observedLocation(moduleFile())).toStrictEqual({ repo: "/etc/nixos", path: PATH });
  });

  test.each<[string, (p: RemoteScriptProps) => void]>([
    ["no observed file (the host look skipped, or a script that writes none)", (p) => delete p.observedFile],
    ["no module", (p) => delete p.module],
    ["no REPO value", (p) => (p.values = {})],
  ])("%s: nothing to observe", (_name, change) => {
    const props = moduleFile();
    change(props);
    expect(observedLocation(props)).toBeUndefined();
  });
});

test("read of a script with nothing to observe returns its id and props unchanged, without SSH", async () => {
  const props = moduleFile();
  delete props.observedFile;
  // The host is unreachable (TEST-NET-1): a connection attempt would fail the read.
  props.connection.host = "192.0.2.1";
  const result = await read("192.0.2.1:d", props);
  expect(result.id).toBe("192.0.2.1:d");
  expect(result.props).toBe(props);
});

describe("parseObservation", () => {
  test.each<[string, unknown]>([
    ['{"sha256":null}\n', { sha256: null }],
    [`{"sha256":"${"b".repeat(64)}"}\n`, { sha256: "b".repeat(64) }],
    [`{"sha256":"${"b".repeat(64)}","text":"x\\n"}\n`, { sha256: "b".repeat(64), text: "x\n" }],
  ])("%j", (stdout, expected) => {
    expect(parseObservation(stdout, PATH)).toStrictEqual(expected);
  });

  test.each(['{"sha256":"nothex"}', '{"sha256":null,"text":3}', "[]"])("%s is refused, naming the file", (stdout) => {
    expect(() => parseObservation(stdout, PATH)).toThrow(`the look at ${PATH} returned an unexpected document: ${stdout}`);
  });
});

describe("observe-file.sh, run by bash here as on the host", () => {
  const script = loadShellScript(join(__dirname, "../../../lib/remote"), "observe-file.sh");
  let repo: string;
  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), "observe file 'repo' $x "));
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));
  const observe = (relpath: string) => parseObservation(execFileSync("bash", ["-c", scriptWithArgs(script, { REPO: repo, RELPATH: relpath })], { encoding: "utf8" }), relpath);

  test("a small file: its digest and exact text, quotes, backslashes, tabs and no final newline included", () => {
    const text = 'a "quoted" \\ back\tslash\n${x}\nno newline';
    writeFileSync(join(repo, "m.nix"), text);
    expect(observe("m.nix")).toStrictEqual({ sha256: sha256(text), text });
  });

  test("an absent file: sha256 null", () => {
    expect(observe("gone.nix")).toStrictEqual({ sha256: null });
  });

  test("a file over 16 KiB, or with a control character: the digest only", () => {
    const large = "x".repeat(16385);
    writeFileSync(join(repo, "large.nix"), large);
    writeFileSync(join(repo, "ctl.nix"), "a\u0001b\n");
    expect(observe("large.nix")).toStrictEqual({ sha256: sha256(large) });
    expect(observe("ctl.nix")).toStrictEqual({ sha256: sha256("a\u0001b\n") });
  });
});

describe("the diff a refresh asks for: the refreshed outputs as olds, the inputs the last up converged as news", () => {
  /** The inputs the last up converged: the look before it had found the file deleted. */
  function converged(): RemoteScriptProps {
    const props = moduleFile();
    delete props.stdout;
    delete props.moduleSha256;
    return { ...props, observedFile: { sha256: null, path: PATH }, drift: `${PATH} was deleted on the host`, inputsId: "run1" };
  }
  const outputs = (): RemoteScriptProps => ({ ...moduleFile(), inputsId: "run1" });

  test("the host as up left it: no change (that run's drift was repaired)", () => {
    expect(diffScripts(recordObservation(outputs(), { sha256: sha256(WRITTEN) }), converged())).toStrictEqual({ changes: false, reasons: [] });
  });

  test("a hand edit recorded by the read: a change, with the recorded reason", () => {
    const recorded = recordObservation(outputs(), { sha256: "c".repeat(64) });
    expect(diffScripts(recorded, converged())).toStrictEqual({ changes: true, reasons: [`drift: ${PATH} was edited on the host`] });
  });

  test("fresh inputs (another inputsId) after that refresh: their own observation decides", () => {
    const recorded = recordObservation(outputs(), { sha256: "c".repeat(64) });
    const fresh = { ...converged(), inputsId: "run2", observedFile: { sha256: sha256(WRITTEN), path: PATH }, drift: IN_SYNC };
    expect(diffScripts(recorded, fresh)).toStrictEqual({ changes: false, reasons: [] });
    const deletedAgain = { ...converged(), inputsId: "run2" };
    expect(diffScripts(outputs(), deletedAgain)).toStrictEqual({ changes: true, reasons: [`drift: ${PATH} was deleted on the host`] });
  });
});

test("the provider's check stamps each operation's inputs with a new inputsId", () => {
  const props = moduleFile();
  const first = checkInputs(props, props);
  const second = checkInputs(props, props);
  expect(first.inputsId).toMatch(/^[0-9a-f]{16}$/);
  expect(second.inputsId).toMatch(/^[0-9a-f]{16}$/);
  expect(first.inputsId).not.toBe(second.inputsId);
  expect({ ...first, inputsId: undefined }).toStrictEqual({ ...checkedInputs(props, props), inputsId: undefined });
});
