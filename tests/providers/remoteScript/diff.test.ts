import { createHash } from "crypto";
import { renderModuleJson } from "../../../lib/nix";
import { checkInputs, diffScripts, moduleText, observedFileDrift, scriptValues } from "../../../providers/remoteScript/diff";
import { IN_SYNC, RemoteScriptProps, ScriptModule } from "../../../providers/remoteScript/props";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** Inputs as the last `up` stored them (outputs carry drift "in-sync" and the kept stdout). */
function stored(): RemoteScriptProps {
  return {
    connection: {
      host: "192.168.1.20",
      port: 22,
      user: "root",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8",
      privateKey: "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nold\n-----END OPENSSH PRIVATE KEY-----\n",
      become: "none",
    },
    description: "btrfs subvolume @immich on MEDIAS",
    create: "set -euo pipefail\necho create\n",
    delete: "set -euo pipefail\necho delete\n",
    values: { MEDIAS_LABEL: "MEDIAS", SUBVOLUME: "@immich" },
    stdin: "s3cret",
    drift: IN_SYNC,
    logOutput: true,
    stdout: "created @immich",
  };
}

/** The new inputs: the stored ones without outputs, one field changed. */
function news(change: (props: RemoteScriptProps) => void = () => undefined): RemoteScriptProps {
  const props = stored();
  delete props.stdout;
  change(props);
  return props;
}

describe("diffScripts", () => {
  test("identical inputs: no change", () => {
    expect(diffScripts(stored(), news())).toStrictEqual({ changes: false, reasons: [] });
  });

  test.each<[string, Partial<RemoteScriptProps> | undefined, string | undefined]>([
    ["in-sync to in-sync", { drift: IN_SYNC }, IN_SYNC],
    // The host after a repair: counting it would flip-flop between runs.
    ["drift found last time, in-sync now", { drift: "subvolume @immich is missing on MEDIAS" }, IN_SYNC],
    ["no drift value in the new inputs", { drift: IN_SYNC }, undefined],
    ["no drift value in the stored state", { drift: undefined }, IN_SYNC],
  ])("drift %s: no change", (_name, oldDrift, newDrift) => {
    const olds = { ...stored(), ...oldDrift };
    expect(diffScripts(olds, news((p) => { p.drift = newDrift; }))).toStrictEqual({ changes: false, reasons: [] });
  });

  test("drift found on the host: a change with the reason", () => {
    const result = diffScripts(stored(), news((p) => { p.drift = "subvolume @immich is missing on MEDIAS"; }));
    expect(result).toStrictEqual({ changes: true, reasons: ["drift: subvolume @immich is missing on MEDIAS"] });
  });

  test("the same drift reported again is still a change (the host is still not repaired)", () => {
    const reason = "modules/generated/skylab-immich/immich.nix was edited on the host";
    const result = diffScripts({ ...stored(), drift: reason }, news((p) => { p.drift = reason; }));
    expect(result).toStrictEqual({ changes: true, reasons: [`drift: ${reason}`] });
  });

  test.each<[string, (p: RemoteScriptProps) => void, string[]]>([
    ["a value", (p) => { p.values = { ...p.values, SUBVOLUME: "@photos" }; }, ["values changed"]],
    ["a value added", (p) => { p.values = { ...p.values, EXTRA: "" }; }, ["values changed"]],
    ["stdin", (p) => { p.stdin = "n3w"; }, ["stdin changed"]],
    ["stdin removed", (p) => { delete p.stdin; }, ["stdin changed"]],
    ["the create script", (p) => { p.create += "echo more\n"; }, ["create changed"]],
    ["an update script added", (p) => { p.update = "set -euo pipefail\n"; }, ["update changed"]],
    ["a confirm script added", (p) => { p.confirm = "set -euo pipefail\necho confirm\n"; }, ["confirm changed"]],
    ["the description", (p) => { p.description = "btrfs subvolume @immich on DATA"; }, ["description changed"]],
    ["connection.host", (p) => { p.connection = { ...p.connection, host: "192.168.1.21" }; }, ["connection.host changed"]],
    ["connection.port", (p) => { p.connection = { ...p.connection, port: 2222 }; }, ["connection.port changed"]],
    ["connection.user", (p) => { p.connection = { ...p.connection, user: "admin" }; }, ["connection.user changed"]],
    ["connection.hostKey", (p) => { p.connection = { ...p.connection, hostKey: "ssh-ed25519 AAAAother" }; }, ["connection.hostKey changed"]],
    ["connection.become", (p) => { p.connection = { ...p.connection, become: "sudo" }; }, ["connection.become changed"]],
    [
      "several fields and drift: every reason, in order",
      (p) => {
        p.values = {};
        p.create = "";
        p.connection = { ...p.connection, host: "skylab.local" };
        p.drift = "not mounted";
      },
      ["create changed", "values changed", "connection.host changed", "drift: not mounted"],
    ],
  ])("changed %s", (_name, change, reasons) => {
    expect(diffScripts(stored(), news(change))).toStrictEqual({ changes: true, reasons });
  });

  test.each<[string, (p: RemoteScriptProps) => void]>([
    ["a new private key", (p) => { p.connection = { ...p.connection, privateKey: "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nnew\n" }; }],
    ["the delete script", (p) => { p.delete = "set -euo pipefail\necho delete differently\n"; }],
    ["the delete script removed", (p) => { delete p.delete; }],
    ["logOutput", (p) => { p.logOutput = false; }],
  ])("changed %s alone: no change", (_name, change) => {
    expect(diffScripts(stored(), news(change))).toStrictEqual({ changes: false, reasons: [] });
  });

  test("state written before a field existed (no update/confirm in olds): no change when news has none either", () => {
    const olds: Partial<RemoteScriptProps> = stored();
    delete olds.update;
    delete olds.confirm;
    expect(diffScripts(olds, news())).toStrictEqual({ changes: false, reasons: [] });
  });
});

/** A module script as NixModuleFile builds it, the body given as data. */
const MODULE: ScriptModule = { value: "CONTENT", generator: "NginxVhost", body: { services: { nginx: { enable: true } } } };
const CONTENT = renderModuleJson(MODULE);

describe("the module a script writes: rendered by the provider", () => {
  test("scriptValues hands the rendered text to the script as the value the module names, next to the declared values", () => {
    expect(scriptValues({ values: { RELPATH: "m/x.nix" }, module: MODULE })).toStrictEqual({ RELPATH: "m/x.nix", CONTENT });
    expect(CONTENT).toBe(
      "# Generated by skylab-immich (NginxVhost). Do not edit: changes are overwritten by `pulumi up`.\n" +
        "{ config, lib, pkgs, ... }:\n{\n  services = {\n    nginx = {\n      enable = true;\n    };\n  };\n}\n",
    );
  });

  test("a script without a module gets its values as they are", () => {
    expect(scriptValues({ values: { A: "1" } })).toStrictEqual({ A: "1" });
    expect(moduleText({})).toBeUndefined();
  });

  test("raw expressions in the body's JSON form are rendered verbatim", () => {
    const module: ScriptModule = { value: "CONTENT", generator: "X", body: { path: { $nixExpr: "config.sops.secrets.x.path" } } };
    expect(moduleText({ module })).toBe(
      "# Generated by skylab-immich (X). Do not edit: changes are overwritten by `pulumi up`.\n" +
        "{ config, lib, pkgs, ... }:\n{\n  path = config.sops.secrets.x.path;\n}\n",
    );
  });
});

describe("observedFileDrift: the file on the host against what the script writes", () => {
  const path = "modules/generated/skylab-immich/nginx.nix";

  test.each<[string, RemoteScriptProps["observedFile"], string | undefined]>([
    ["not looked at", undefined, undefined],
    ["identical bytes", { sha256: sha256(CONTENT), path }, undefined],
    ["deleted on the host", { sha256: null, path }, `${path} was deleted on the host`],
    ["edited on the host", { sha256: sha256(`${CONTENT}# edited\n`), path }, `${path} was edited on the host`],
    [
      "edited, with the host's text: the lines up puts back",
      { sha256: sha256(`${CONTENT}# edited\n`), path, text: `${CONTENT}# edited\n` },
      `${path} was edited on the host; up puts back:\n@@ line 10\n-# edited`,
    ],
  ])("%s", (_name, observedFile, expected) => {
    expect(observedFileDrift({ module: MODULE, observedFile })).toBe(expected);
  });

  test("the file is compared with the rendering of the body as it is now (after a remediation, say)", () => {
    const remediated: ScriptModule = { ...MODULE, body: { services: { nginx: { enable: false } } } };
    expect(observedFileDrift({ module: remediated, observedFile: { sha256: sha256(renderModuleJson(remediated)), path } })).toBeUndefined();
    expect(observedFileDrift({ module: remediated, observedFile: { sha256: sha256(CONTENT), path } })).toBe(`${path} was edited on the host`);
  });

  test("in diffScripts: an edited file is a change with its reason, the same bytes are none", () => {
    const edited = news((p) => {
      p.module = MODULE;
      p.observedFile = { sha256: sha256("edited"), path };
    });
    const olds = { ...stored(), module: MODULE, moduleSha256: sha256(CONTENT) };
    expect(diffScripts(olds, edited)).toStrictEqual({ changes: true, reasons: [`drift: ${path} was edited on the host`] });
    const same = { ...edited, observedFile: { sha256: sha256(CONTENT), path } };
    expect(diffScripts(olds, same)).toStrictEqual({ changes: false, reasons: [] });
  });
});

describe("diffScripts of a module by the text it renders to", () => {
  const olds = () => ({ ...stored(), module: MODULE, moduleSha256: sha256(CONTENT) });

  test.each<[string, Partial<RemoteScriptProps>, string[]]>([
    ["the same body: no change", { module: MODULE }, []],
    ["the same body with its keys in another order: no change (the text is the same)", {
      module: { generator: "NginxVhost", body: { services: { nginx: { enable: true } } }, value: "CONTENT" },
    }, []],
    ["another body (a config change, or a policy's remediation)", { module: { ...MODULE, body: { services: { nginx: { enable: false } } } } }, ["module changed"]],
    ["another generator (the header changes)", { module: { ...MODULE, generator: "Other" } }, ["module changed"]],
    ["another value name", { module: { ...MODULE, value: "TEXT" } }, ["module changed"]],
    ["the module removed", { module: undefined }, ["module changed"]],
  ])("%s", (_name, change, reasons) => {
    expect(diffScripts(olds(), { ...news(), ...change })).toStrictEqual({ changes: reasons.length > 0, reasons });
  });

  test("a file written by another rendering (the renderer changed since) is a change", () => {
    expect(diffScripts({ ...olds(), moduleSha256: sha256(`${CONTENT}\n`) }, { ...news(), module: MODULE })).toStrictEqual({
      changes: true, reasons: ["module changed"],
    });
  });

  test("state without the written digest is judged by the stored module", () => {
    const { moduleSha256: _written, ...withoutDigest } = olds();
    expect(diffScripts(withoutDigest, { ...news(), module: MODULE })).toStrictEqual({ changes: false, reasons: [] });
    expect(diffScripts(withoutDigest, { ...news(), module: { ...MODULE, generator: "Other" } }).reasons).toStrictEqual(["module changed"]);
  });
});

describe("checkInputs and the diff of a script that writes an observed file", () => {
  const withFile = (sha: string | null, module: ScriptModule = MODULE, text?: string) =>
    news((p) => {
      p.values = { RELPATH: "modules/generated/x.nix" };
      p.module = module;
      p.observedFile = { sha256: sha, path: "modules/generated/x.nix", ...(text === undefined ? {} : { text }) };
    });

  test.each<[string, string | null, string]>([
    ["file as written: in-sync", sha256(CONTENT), IN_SYNC],
    ["file deleted on the host", null, "modules/generated/x.nix was deleted on the host"],
    ["file edited on the host", sha256("edited"), "modules/generated/x.nix was edited on the host"],
  ])("%s", (_name, sha, drift) => {
    // An update: the resource exists (its old inputs are there).
    expect(checkInputs(withFile(sha), withFile(sha256(CONTENT))).drift).toBe(drift);
  });

  test("the program changes the module and the file is as the last run left it: the plan, not a hand edit", () => {
    const changed: ScriptModule = { ...MODULE, body: { services: { nginx: { enable: false } } } };
    const olds = { ...withFile(sha256(CONTENT)), moduleSha256: sha256(CONTENT) };
    const checked = checkInputs(withFile(sha256(CONTENT), changed), olds);
    expect(checked.drift).toBe(IN_SYNC);
    expect(diffScripts({ ...olds, drift: IN_SYNC }, checked)).toStrictEqual({ changes: true, reasons: ["module changed"] });
  });

  test("being created, a file not there yet is the plan, not drift", () => {
    expect(checkInputs(withFile(null), {}).drift).toBe(IN_SYNC);
    expect(checkInputs(withFile(null)).drift).toBe(IN_SYNC);
  });

  test("the host's text is kept only when the file differs from what is written (a converged file's text stays out of the state)", () => {
    const edited = `${CONTENT}# by hand\n`;
    expect(checkInputs(withFile(sha256(edited), MODULE, edited), withFile(sha256(CONTENT))).observedFile).toStrictEqual({
      sha256: sha256(edited), path: "modules/generated/x.nix", text: edited,
    });
    expect(checkInputs(withFile(sha256(CONTENT), MODULE, CONTENT), withFile(sha256(CONTENT))).observedFile).toStrictEqual({
      sha256: sha256(CONTENT), path: "modules/generated/x.nix",
    });
  });

  test("a script without an observed file keeps the drift it was given", () => {
    expect(checkInputs(news((p) => (p.drift = "mount gone"))).drift).toBe("mount gone");
  });

  test("the diff judges from what will be written: a remediated body that matches the host is no change", () => {
    // check() sees the body before a policy remediates it, so its display drift says "edited"; the
    // remediated body renders to what the host already has.
    const remediated: ScriptModule = { ...MODULE, body: { services: { nginx: { enable: false } } } };
    const after = checkInputs(withFile(sha256(renderModuleJson(remediated))), withFile(sha256(CONTENT)));
    expect(after.drift).toBe("modules/generated/x.nix was edited on the host");
    after.module = remediated;
    const old = { ...after, drift: IN_SYNC, moduleSha256: sha256(renderModuleJson(remediated)) };
    expect(diffScripts(old, after)).toStrictEqual({ changes: false, reasons: [] });
  });
});
