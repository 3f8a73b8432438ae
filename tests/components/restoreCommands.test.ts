/**
 * The restore commands a rollback prints (components/shell/nixos-apply.sh, `restore_commands`): exact
 * text, and pasted into bash they run each tool with exactly the intended arguments, whatever spaces,
 * quotes or `$` the names hold. The tools are stubbed as shell functions that print their arguments.
 */
import { spawnSync } from "child_process";
import { snapshotValues } from "../../components/NixosApply";
import { loadScript } from "../../components/shell";
import { scriptWithArgs } from "../../lib/remote/shell";

const PROGRAM = loadScript("nixos-apply.sh", "verify-checks.sh");

function restoreCommands(snapshots: Parameters<typeof snapshotValues>[0], snapshot: string): string {
  const script = scriptWithArgs(`${PROGRAM}\nrestore_commands "$1"\n`, snapshotValues(snapshots));
  const result = spawnSync("bash", ["-c", script, "restore", snapshot], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout;
}

/** Runs the printed commands (indentation removed) with every tool stubbed; one line per call: its argv, bracketed. */
function runStubbed(commands: string): string[] {
  const stubs = ["systemctl", "umount", "mount", "mv", "btrfs", "rmdir"].map((tool) => `${tool}() { printf '[%s]' ${tool} "$@"; echo; }`);
  const script = [...stubs, "mktemp() { echo '/run/top dir'; }", "set -e", commands.replace(/^ {4}/gm, "")].join("\n");
  const result = spawnSync("bash", ["-c", script], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim().split("\n");
}

describe("restore_commands", () => {
  test("the defaults: exact text", () => {
    const text = restoreCommands(
      { mediasLabel: "MEDIAS", subvolume: "@immich", folder: "@immich-snapshots", keep: 5, mountPoint: "/var/lib/immich", units: ["immich-server.service", "immich-machine-learning.service"] },
      "@immich-snapshots/2026-12-02T06-01-02Z",
    );
    expect(text).toBe([
      "    systemctl stop 'immich-server.service' 'immich-machine-learning.service'",
      "    umount '/var/lib/immich'",
      "    top=$(mktemp -d) && mount -t btrfs -o subvolid=5 '/dev/disk/by-label/MEDIAS' \"$top\"",
      "    mv -T \"$top\"/'@immich' \"$top\"/'@immich.before-restore-2026-12-02T06-01-02Z'",
      "    btrfs subvolume snapshot \"$top\"/'@immich-snapshots/2026-12-02T06-01-02Z' \"$top\"/'@immich'",
      "    umount \"$top\" && rmdir \"$top\"",
      "    mount '/var/lib/immich'",
      "    systemctl start 'immich-server.service' 'immich-machine-learning.service'",
      "",
    ].join("\n"));
  });

  test("names with spaces, quotes and $ reach each tool as exactly one argument", () => {
    const mountPoint = "/srv/my immich's \"data\" $HOME";
    const text = restoreCommands(
      { mediasLabel: "MEDIAS", subvolume: "@im'mich", folder: "@im'mich-snapshots", keep: 2, mountPoint, units: ["a b.service", "c'd.service"] },
      "@im'mich-snapshots/2026-12-02T06-01-02Z",
    );
    expect(runStubbed(text)).toStrictEqual([
      "[systemctl][stop][a b.service][c'd.service]",
      `[umount][${mountPoint}]`,
      "[mount][-t][btrfs][-o][subvolid=5][/dev/disk/by-label/MEDIAS][/run/top dir]",
      "[mv][-T][/run/top dir/@im'mich][/run/top dir/@im'mich.before-restore-2026-12-02T06-01-02Z]",
      "[btrfs][subvolume][snapshot][/run/top dir/@im'mich-snapshots/2026-12-02T06-01-02Z][/run/top dir/@im'mich]",
      "[umount][/run/top dir]",
      "[rmdir][/run/top dir]",
      `[mount][${mountPoint}]`,
      "[systemctl][start][a b.service][c'd.service]",
    ]);
  });
});
