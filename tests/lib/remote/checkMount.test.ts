/**
 * The one mount rule, check_mount in lib/remote/lib.sh: the host look's drift verdicts and the
 * apply's repair and verification all come from it. Run under bash with `findmnt` answering as the
 * table says (a function of the same name shadows the tool).
 */
import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import { join } from "path";

const LIB = readFileSync(join(__dirname, "..", "..", "..", "lib", "remote", "lib.sh"), "utf8");

/** check_mount's answer when findmnt reports `live` ("SOURCE FSTYPE OPTIONS FSROOT", or nothing). */
function checkMount(live: string | null, mountPoint: string, options: string[]): string {
  const script = `${LIB}\nfindmnt() { [ -z "$LIVE" ] || printf '%s\\n' "$LIVE"; }\ncheck_mount "$1" "$2"\n`;
  const result = spawnSync("bash", ["-c", script, "check", mountPoint, options.join(",")], {
    env: { PATH: process.env.PATH, LIVE: live ?? "" }, encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`bash exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

const btrfs = (options: string, fsroot = "/@immich") => `/dev/sdb1[${fsroot}] btrfs ${options} ${fsroot}`;
const DATA = "/var/lib/immich";

test.each<[string, string | null, string[], string]>([
  ["compress=zstd declared, live compress=zstd:3", btrfs("rw,noatime,compress=zstd:3,subvol=/@immich"), ["subvol=@immich", "compress=zstd", "noatime"],
    "pass|/dev/sdb1[/@immich] btrfs rw,noatime,compress=zstd:3,subvol=/@immich\n"],
  ["compress=zstd:3 declared, live compress=zstd:3", btrfs("rw,noatime,compress=zstd:3"), ["compress=zstd:3", "noatime"],
    "pass|/dev/sdb1[/@immich] btrfs rw,noatime,compress=zstd:3\n"],
  ["compress=zstd:3 declared, live compress=zstd:1", btrfs("rw,noatime,compress=zstd:1"), ["compress=zstd:3"],
    "fail|/var/lib/immich is mounted without compress=zstd:3 (live options: rw,noatime,compress=zstd:1)\n"],
  ["compress=zstd declared, live compress=zlib:3", btrfs("rw,compress=zlib:3"), ["compress=zstd"],
    "fail|/var/lib/immich is mounted without compress=zstd (live options: rw,compress=zlib:3)\n"],
  ["compress=zstd declared, no compression live", btrfs("rw,noatime"), ["compress=zstd"],
    "fail|/var/lib/immich is mounted without compress=zstd (live options: rw,noatime)\n"],
  ["compress=zstd declared, live compress-force=zstd:3 is another option", btrfs("rw,compress-force=zstd:3"), ["compress=zstd"],
    "fail|/var/lib/immich is mounted without compress=zstd (live options: rw,compress-force=zstd:3)\n"],
  ["compress-force=zstd declared, live compress-force=zstd:3", btrfs("rw,compress-force=zstd:3"), ["compress-force=zstd"],
    "pass|/dev/sdb1[/@immich] btrfs rw,compress-force=zstd:3\n"],
  ["missing noatime", btrfs("rw,relatime,compress=zstd:3"), ["compress=zstd", "noatime"],
    "fail|/var/lib/immich is mounted without noatime (live options: rw,relatime,compress=zstd:3)\n"],
  ["wrong subvolume (fsroot)", btrfs("rw,noatime", "/@other"), ["subvol=@immich", "noatime"],
    "fail|/var/lib/immich is mounted from /@other, expected subvolume /@immich\n"],
  ["subvol given with a leading slash", btrfs("rw"), ["subvol=/@immich"], "pass|/dev/sdb1[/@immich] btrfs rw\n"],
  ["not mounted", null, ["noatime"], "fail|/var/lib/immich is not mounted\n"],
  ["bind and defaults are not visible once mounted and are ignored", btrfs("ro,relatime", "/pics"), ["bind", "defaults", "ro"],
    "pass|/dev/sdb1[/pics] btrfs ro,relatime\n"],
  ["ro required but mounted rw", btrfs("rw,relatime", "/pics"), ["bind", "ro"],
    "fail|/var/lib/immich is mounted without ro (live options: rw,relatime)\n"],
  ["an option is matched whole, not as a prefix", btrfs("rw,noatime_x"), ["noatime"],
    "fail|/var/lib/immich is mounted without noatime (live options: rw,noatime_x)\n"],
  ["the first mismatch is reported", btrfs("rw,relatime", "/@other"), ["subvol=@immich", "noatime"],
    "fail|/var/lib/immich is mounted from /@other, expected subvolume /@immich\n"],
])("%s", (_name, live, options, verdict) => {
  expect(checkMount(live, DATA, options)).toBe(verdict);
});

test("a mount point with a space and a quote is named as it is", () => {
  expect(checkMount(null, "/var/lib/it's data", ["noatime"])).toBe("fail|/var/lib/it's data is not mounted\n");
});
