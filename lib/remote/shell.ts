/**
 * The one way TypeScript values reach a remote shell script.
 *
 * Scripts live in `.sh` files and never have values spliced into their text; instead
 * {@link scriptWithArgs} prepends a preamble of `NAME='value'` assignments built by {@link shellQuote}.
 * Property tests run the result under the real `/bin/sh` and `bash` and compare the bytes each variable
 * holds with the input (tests/lib/shell.test.ts).
 *
 * Secrets do not go through here: they travel on the script's standard input (SopsSecret, sops-secret-set.sh), never in its text, argv or environment.
 */

const VARIABLE_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * Names the shell itself reads or protects: assigning them would change how the script runs (`IFS`,
 * `PATH`, `PS4`, …) or fail outright (bash's read-only `UID`, `EUID`, `PPID`).
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  "_",
  "CDPATH",
  "ENV",
  "EUID",
  "GLOBIGNORE",
  "HOME",
  "IFS",
  "LANG",
  "OLDPWD",
  "OPTARG",
  "OPTIND",
  "PATH",
  "PPID",
  "PS1",
  "PS2",
  "PS3",
  "PS4",
  "PWD",
  "SHELLOPTS",
  "UID",
]);
const RESERVED_PREFIXES: readonly string[] = ["BASH", "LC_"];

function describe(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}

/**
 * Quotes `value` as one POSIX shell word: `'…'`, with each `'` written as `'\''`. Inside single quotes
 * nothing is special, so `$()`, backticks, `\`, globs, newlines and unicode pass through unchanged.
 *
 * Throws on NUL (no shell variable or argument can hold it) and on lone UTF-16 surrogates (they have no
 * UTF-8 encoding and would silently become U+FFFD).
 */
export function shellQuote(value: string): string {
  if (value.includes("\0")) {
    throw new Error(`shellQuote: the value contains NUL (${describe(value)}): a shell variable cannot hold NUL.`);
  }
  if (/[\uD800-\uDFFF]/u.test(value)) {
    throw new Error(
      `shellQuote: the value is not well-formed Unicode (a lone surrogate in ${describe(value)}): fix the source of this string.`,
    );
  }
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/** Throws unless `name` can safely carry a script input (see {@link scriptWithArgs}). */
export function assertScriptVariableName(name: string): void {
  if (!VARIABLE_NAME.test(name)) {
    throw new Error(
      `scriptWithArgs: variable name ${describe(name)} must match ${VARIABLE_NAME}: use upper-case letters, digits and underscores.`,
    );
  }
  if (RESERVED_NAMES.has(name) || RESERVED_PREFIXES.some((prefix) => name.startsWith(prefix))) {
    throw new Error(
      `scriptWithArgs: variable name "${name}" is reserved by the shell: pick another name, e.g. "SKYLAB_${name.replace(/^_+/, "")}".`,
    );
  }
}

const SHEBANG = /^#!/;
const COMMENT_OR_BLANK = /^\s*(#.*)?$/;
const SET_OPTIONS = /^\s*set\s+[-+]/;

/** A script input: one string, or a list that reaches bash as an array (`NAME=('a' 'b')`). */
export type ScriptValue = string | readonly string[];

/**
 * Returns `script` with a preamble of `NAME='value'` lines (names sorted, values quoted by
 * {@link shellQuote}; lists as bash arrays `NAME=('a' 'b')`, so a list's elements may hold any byte but
 * NUL), so the script can run as `bash -s` (script on stdin) or `bash -c` and reads its inputs only from
 * these plain, unexported shell variables. Scripts that take a list run under bash.
 *
 * The preamble goes after the shebang line (if any) and, when the first command after the leading
 * comments is a `set -…` line (`set -euo pipefail`), after that line; otherwise directly after the
 * shebang. With no variables the script is returned unchanged.
 */
export function scriptWithArgs(script: string, vars: Readonly<Record<string, ScriptValue>>): string {
  const names = Object.keys(vars).sort();
  for (const name of names) assertScriptVariableName(name);
  const preamble = names.map((name) => {
    const value = vars[name];
    if (Array.isArray(value)) {
      for (const element of value) {
        if (typeof element !== "string") {
          throw new Error(`scriptWithArgs: every element of list "${name}" must be a string (got ${typeof element}): convert it first.`);
        }
      }
      return `${name}=(${value.map(shellQuote).join(" ")})\n`;
    }
    if (typeof value !== "string") {
      throw new Error(`scriptWithArgs: variable "${name}" must be a string or a list of strings (got ${typeof value}): convert it first.`);
    }
    return `${name}=${shellQuote(value)}\n`;
  });
  if (preamble.length === 0) return script;

  const lines = script.split("\n");
  let insertAt = lines.length > 0 && SHEBANG.test(lines[0]) ? 1 : 0;
  let firstCommand = insertAt;
  while (firstCommand < lines.length && COMMENT_OR_BLANK.test(lines[firstCommand])) firstCommand++;
  if (firstCommand < lines.length && SET_OPTIONS.test(lines[firstCommand])) insertAt = firstCommand + 1;

  const head = lines.slice(0, insertAt).join("\n");
  const tail = lines.slice(insertAt).join("\n");
  // When the script ends on the insertion line (no trailing newline), head needs one before the preamble.
  return `${insertAt > 0 ? `${head}\n` : ""}${preamble.join("")}${tail}`;
}

/**
 * Joins `argv` into one command line with every word quoted by {@link shellQuote}, for running a fixed
 * tool with arguments over SSH (the remote login shell splits it back into exactly `argv`).
 */
export function commandLine(argv: readonly string[]): string {
  if (argv.length === 0) {
    throw new Error("commandLine: `argv` must name at least the program to run.");
  }
  return argv.map(shellQuote).join(" ");
}
