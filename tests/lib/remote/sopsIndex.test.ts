/** sops_index (lib/remote/lib.sh): the one place a sops key path becomes sops' --extract index. */
import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import { join } from "path";

const LIB = readFileSync(join(__dirname, "..", "..", "..", "lib", "remote", "lib.sh"), "utf8");

function sopsIndex(...args: string[]): string {
  const result = spawnSync("bash", ["-c", `${LIB}\nsops_index "$@"\n`, "sops_index", ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout;
}

test.each<[string[], string]>([
  [["immich/db_password"], '["immich"]["db_password"]'],
  [["single"], '["single"]'],
  [["a/b/c", "2"], '["a"]["b"]'],
  [["a/b/c", "1"], '["a"]'],
])("%j → %s", (args, index) => {
  expect(sopsIndex(...args)).toBe(index);
});
