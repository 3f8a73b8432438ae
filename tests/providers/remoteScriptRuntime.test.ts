import { createHash } from "crypto";
import { checkInputs, diffScripts, IN_SYNC, observedFileDrift, RemoteScriptProps } from "../../providers/remoteScriptRuntime";

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

describe("observedFileDrift: the file on the host against what the script writes", () => {
  const content = "# Generated by skylab-immich (NginxVhost).\n{ config, lib, pkgs, ... }:\n{ }\n";
  const path = "modules/generated/skylab-immich/nginx.nix";
  const values = { CONTENT: content, RELPATH: path };

  test.each<[string, RemoteScriptProps["observedFile"], string | undefined]>([
    ["not looked at", undefined, undefined],
    ["identical bytes", { sha256: sha256(content), value: "CONTENT", path }, undefined],
    ["deleted on the host", { sha256: null, value: "CONTENT", path }, `${path} was deleted on the host`],
    ["edited on the host", { sha256: sha256(`${content}# edited\n`), value: "CONTENT", path }, `${path} was edited on the host`],
    // The digest of another value is not the file's: only the named value counts.
    ["compared with the named value only", { sha256: sha256(path), value: "CONTENT", path }, `${path} was edited on the host`],
    ["a missing value is empty content", { sha256: sha256(""), value: "MISSING", path }, undefined],
    [
      "edited, with the host's text: the lines up puts back",
      { sha256: sha256(`${content}# edited\n`), value: "CONTENT", path, text: `${content}# edited\n` },
      `${path} was edited on the host; up puts back:\n@@ line 4\n-# edited`,
    ],
  ])("%s", (_name, observedFile, expected) => {
    expect(observedFileDrift({ values, observedFile })).toBe(expected);
  });

  test("in diffScripts: an edited file is a change with its reason, the same bytes are none", () => {
    const edited = news((p) => {
      p.values = { ...p.values, CONTENT: content };
      p.observedFile = { sha256: sha256("edited"), value: "CONTENT", path };
    });
    const olds = { ...stored(), values: { ...stored().values, CONTENT: content } };
    expect(diffScripts(olds, edited)).toStrictEqual({ changes: true, reasons: [`drift: ${path} was edited on the host`] });
    const same = { ...edited, observedFile: { sha256: sha256(content), value: "CONTENT", path } };
    expect(diffScripts(olds, same)).toStrictEqual({ changes: false, reasons: [] });
  });

  test("in diffScripts: new content while the file still holds the old: a change, led by the values", () => {
    const olds = { ...stored(), values: { CONTENT: "old\n" } };
    const changed = news((p) => {
      p.values = { CONTENT: "new\n" };
      p.observedFile = { sha256: sha256("old\n"), value: "CONTENT", path };
    });
    expect(diffScripts(olds, changed).changes).toBe(true);
    expect(diffScripts(olds, changed).reasons[0]).toBe("values changed");
  });
});

describe("checkInputs and the diff of a script that writes an observed file", () => {
  const content = "# Generated by skylab-immich (X).\n{ }\n";
  const withFile = (sha: string | null, written = content) =>
    news((p) => {
      p.values = { CONTENT: written, RELPATH: "modules/generated/x.nix" };
      p.observedFile = { sha256: sha, value: "CONTENT", path: "modules/generated/x.nix" };
    });

  test.each<[string, string | null, string]>([
    ["file as written: in-sync", sha256(content), IN_SYNC],
    ["file deleted on the host", null, "modules/generated/x.nix was deleted on the host"],
    ["file edited on the host", sha256("edited"), "modules/generated/x.nix was edited on the host"],
  ])("%s", (_name, sha, drift) => {
    // An update: the resource exists (its old inputs are there).
    expect(checkInputs(withFile(sha), withFile(sha256(content))).drift).toBe(drift);
  });

  test("being created, a file not there yet is the plan, not drift", () => {
    expect(checkInputs(withFile(null), {}).drift).toBe(IN_SYNC);
    expect(checkInputs(withFile(null)).drift).toBe(IN_SYNC);
  });

  test("a script without an observed file keeps the drift it was given", () => {
    expect(checkInputs(news((p) => (p.drift = "mount gone"))).drift).toBe("mount gone");
  });

  test("the diff judges from what will be written: a remediated value that matches the host is no change", () => {
    // check() saw the content before a policy remediated it, so its display drift says "edited"; the
    // remediated content is what the host already has.
    const remediated = "# Generated by skylab-immich (X).\n{ noatime }\n";
    const after = checkInputs(withFile(sha256(remediated)), withFile(sha256(content)));
    expect(after.drift).toBe("modules/generated/x.nix was edited on the host");
    after.values = { ...after.values, CONTENT: remediated };
    const old = { ...after, values: { ...after.values }, drift: IN_SYNC };
    expect(diffScripts(old, after)).toStrictEqual({ changes: false, reasons: [] });
  });
});
