import { readFileSync } from "fs";
import { join } from "path";

/** Shell functions every remote script gets (lib/remote/lib.sh). */
const SHARED_FUNCTIONS = readFileSync(join(__dirname, "lib.sh"), "utf8");

/**
 * The text of the shell script `dir/name`, read once when the module that runs it loads, with the shared
 * functions of lib.sh (and of the function files in `dir` named in `libraries`, e.g. verify-checks.sh)
 * placed after its `set -euo pipefail` line. Values reach it later through the preamble (./shell.ts).
 */
export function loadShellScript(dir: string, name: string, ...libraries: string[]): string {
  const read = (file: string) => readFileSync(join(dir, file), "utf8");
  const functions = [SHARED_FUNCTIONS, ...libraries.map(read)].join("");
  return read(name).replace(/^set -[a-z]*e[a-z]* pipefail\n/m, (line) => `${line}${functions}`);
}
