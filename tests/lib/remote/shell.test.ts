import { spawnSync } from "child_process";
import fc from "fast-check";
import { assertScriptVariableName, commandLine, scriptWithArgs, shellQuote } from "../../../lib/remote/shell";

/** How the remote side may receive a script: on stdin (`sh -s`, `bash -s`) or as an argument (`bash -c`). */
const RUNNERS: Array<{ name: string; run: (script: string) => ReturnType<typeof spawnSync> }> = [
  { name: "/bin/sh -s", run: (script) => spawnSync("/bin/sh", ["-s"], { input: script }) },
  { name: "bash -s", run: (script) => spawnSync("bash", ["-s"], { input: script }) },
  { name: "bash -c", run: (script) => spawnSync("bash", ["-c", script]) },
];

function stdoutOf(result: ReturnType<typeof spawnSync>, runner: string): Buffer {
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${runner} exited ${result.status}: ${String(result.stderr)}`);
  return result.stdout as Buffer;
}

describe("shellQuote: exact output", () => {
  test.each<[string, string, string]>([
    ["empty string", "", "''"],
    ["plain word", "immich", "'immich'"],
    ["space", "a b", "'a b'"],
    ["single quote", "it's", "'it'\\''s'"],
    ["only a single quote", "'", "''\\'''"],
    ["two single quotes", "''", "''\\'''\\'''"],
    ["double quote and backslash stay literal", 'a"b\\c', "'a\"b\\c'"],
    ["command substitution stays literal", "$(rm -rf /)", "'$(rm -rf /)'"],
    ["backticks stay literal", "`id`", "'`id`'"],
    ["newline stays inside the quotes", "a\nb", "'a\nb'"],
    ["glob characters", "*?[a]", "'*?[a]'"],
    ["leading dash", "-rf", "'-rf'"],
    ["unicode", "café 🐱", "'café 🐱'"],
  ])("%s", (_name, value, expected) => {
    expect(shellQuote(value)).toBe(expected);
  });

  test("rejects NUL, which no shell variable can hold", () => {
    expect(() => shellQuote("a\0b")).toThrow(/contains NUL .*a shell variable cannot hold NUL/);
  });

  test("rejects a lone surrogate, which has no UTF-8 bytes", () => {
    expect(() => shellQuote("a\uDC00")).toThrow(/not well-formed Unicode/);
  });
});

describe("commandLine", () => {
  test("quotes every word", () => {
    expect(commandLine(["btrfs", "subvolume", "show", "/mnt/my media's"])).toBe(
      "'btrfs' 'subvolume' 'show' '/mnt/my media'\\''s'",
    );
  });

  test("rejects an empty argv", () => {
    expect(() => commandLine([])).toThrow(/`argv` must name at least the program/);
  });

  test("rejects NUL in any word", () => {
    expect(() => commandLine(["echo", "a\0"])).toThrow(/NUL/);
  });
});

describe("scriptWithArgs: layout", () => {
  const vars = { B_VALUE: "b", A_VALUE: "it's" };
  const preamble = "A_VALUE='it'\\''s'\nB_VALUE='b'\n";

  test.each<[string, string, string]>([
    [
      "after the shebang and set line",
      "#!/usr/bin/env bash\nset -euo pipefail\necho hi\n",
      `#!/usr/bin/env bash\nset -euo pipefail\n${preamble}echo hi\n`,
    ],
    [
      "after comments and the set line",
      "#!/usr/bin/env bash\n# Creates a subvolume.\n\nset -euo pipefail\necho hi\n",
      `#!/usr/bin/env bash\n# Creates a subvolume.\n\nset -euo pipefail\n${preamble}echo hi\n`,
    ],
    ["after a set line without shebang", "set -eu\necho hi\n", `set -eu\n${preamble}echo hi\n`],
    ["after the shebang when there is no set line", "#!/bin/sh\necho hi\n", `#!/bin/sh\n${preamble}echo hi\n`],
    ["at the top when there is neither", "echo hi\n", `${preamble}echo hi\n`],
    ["a set line later in the script does not count", "echo hi\nset -e\n", `${preamble}echo hi\nset -e\n`],
    ["a script that ends on the set line", "#!/bin/bash\nset -euo pipefail", `#!/bin/bash\nset -euo pipefail\n${preamble}`],
    ["an empty script", "", preamble],
  ])("%s", (_name, script, expected) => {
    expect(scriptWithArgs(script, vars)).toBe(expected);
  });

  test("no variables leaves the script unchanged", () => {
    const script = "#!/bin/bash\nset -euo pipefail\necho hi\n";
    expect(scriptWithArgs(script, {})).toBe(script);
  });

  test("names are sorted so the same inputs give the same bytes", () => {
    expect(scriptWithArgs("", { Z: "1", A: "2", M: "3" })).toBe("A='2'\nM='3'\nZ='1'\n");
  });

  test.each([
    ["lower case", "name", /must match/],
    ["leading digit", "1NAME", /must match/],
    ["dash", "MY-NAME", /must match/],
    ["space", "MY NAME", /must match/],
    ["empty", "", /must match/],
    ["PATH", "PATH", /"PATH" is reserved by the shell/],
    ["IFS", "IFS", /"IFS" is reserved by the shell/],
    ["read-only in bash", "UID", /"UID" is reserved by the shell/],
    ["bash's own prefix", "BASH_ENV", /"BASH_ENV" is reserved by the shell/],
    ["locale", "LC_ALL", /"LC_ALL" is reserved by the shell/],
    ["underscore", "_", /"_" is reserved by the shell/],
  ])("rejects the name %s", (_name, name, message) => {
    expect(() => scriptWithArgs("echo\n", { [name]: "x" })).toThrow(message);
    expect(() => assertScriptVariableName(name)).toThrow(message);
  });

  test.each(["A", "_A", "MEDIA_LABEL", "V2", "SKYLAB_PATH"])("accepts the name %s", (name) => {
    expect(() => assertScriptVariableName(name)).not.toThrow();
  });

  test("rejects NUL in a value", () => {
    expect(() => scriptWithArgs("echo\n", { A: "x\0y" })).toThrow(/a shell variable cannot hold NUL/);
  });

  test("rejects a non-string value that slipped past the types", () => {
    expect(() => scriptWithArgs("echo\n", { PORT: 2283 as unknown as string })).toThrow(/"PORT" must be a string or a list of strings \(got number\)/);
  });

  test("a list becomes a bash array, one quoted word per element; an empty list an empty array", () => {
    expect(scriptWithArgs("set -euo pipefail\necho\n", { KINDS: ["mount", "it's"], NONE: [] })).toBe(
      "set -euo pipefail\nKINDS=('mount' 'it'\\''s')\nNONE=()\necho\n",
    );
  });

  test("rejects a list element that is not a string", () => {
    expect(() => scriptWithArgs("echo\n", { L: ["a", 1 as unknown as string] })).toThrow(/every element of list "L" must be a string \(got number\)/);
  });
});

describe("scriptWithArgs under the real shells", () => {
  test.each(RUNNERS)("variables are plain, not exported ($name)", ({ name, run }) => {
    const script = scriptWithArgs('#!/bin/sh\nset -eu\nprintf "%s|" "$SECRETLESS"\nsh -c \'printf "%s" "${SECRETLESS-unset}"\'\n', {
      SECRETLESS: "value",
    });
    expect(stdoutOf(run(script), name).toString("utf8")).toBe("value|unset");
  });

  test("positive control: splicing a value into script text without quoting breaks it", () => {
    // Proves the byte comparison below can fail: the naive way changes the value.
    const value = "a  $(echo b)";
    const naive = `V=${value}\nprintf '%s' "$V"\n`;
    expect(stdoutOf(RUNNERS[0].run(naive), "sh").toString("utf8")).not.toBe(value);
    expect(stdoutOf(RUNNERS[0].run(scriptWithArgs("printf '%s' \"$V\"\n", { V: value })), "sh").toString("utf8")).toBe(value);
  });

  // Characters that mean something to a shell, plus arbitrary code points, so they meet each other often.
  const hostileChar = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        "'", '"', "\\", "$", "(", ")", "`", "\n", "\r", "\t", " ", "-", "*", "?", "[", "]", "!", "#", ";", "&", "|",
        "~", "{", "}", "<", ">", "%", "=", "\x01", "\x7f",
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => c !== "\0") },
    { weight: 1, arbitrary: fc.constantFrom("a", "Z", "0", "_", "é", "🐱") },
  );
  const hostileString = fc.oneof(
    fc.string({ unit: hostileChar, maxLength: 16 }),
    fc.string({ unit: "binary", maxLength: 8 }).filter((s) => !s.includes("\0")),
    fc.constantFrom("", "-n", "--", "-e", "$(touch /tmp/skylab-pwned)", "`id`", "'\\''", "${IFS}", "*", "~root", "!!", "\\"),
  );

  test("each variable holds exactly the bytes it was given (/bin/sh -s, bash -s, bash -c)", () => {
    fc.assert(
      fc.property(fc.array(hostileString, { minLength: 1, maxLength: 8 }), (values) => {
        // NUL separates the outputs: no value can contain it (shellQuote rejects it).
        const vars = Object.fromEntries(values.map((value, i) => [`V_${i}`, value]));
        const body = values.map((_value, i) => `printf '%s' "$V_${i}"\nprintf '\\000'\n`).join("");
        const expected = Buffer.concat(values.map((value) => Buffer.concat([Buffer.from(value, "utf8"), Buffer.from([0])])));
        for (const { name, run } of RUNNERS) {
          const header = name === "/bin/sh -s" ? "#!/bin/sh\nset -eu\n" : "#!/usr/bin/env bash\nset -euo pipefail\n";
          expect({ runner: name, stdout: stdoutOf(run(scriptWithArgs(header + body, vars)), name) }).toEqual({
            runner: name,
            stdout: expected,
          });
        }
      }),
      { seed: 20240611, numRuns: 200 },
    );
  });

  test("each element of a list holds exactly the bytes it was given, and the array its length (bash -s, bash -c)", () => {
    fc.assert(
      fc.property(fc.array(fc.array(hostileString, { maxLength: 6 }), { minLength: 1, maxLength: 4 }), (lists) => {
        const vars = Object.fromEntries(lists.map((list, i) => [`L_${i}`, list]));
        const body = lists.map((_list, i) => `printf '%s\\000' "\${#L_${i}[@]}"\nfor e in "\${L_${i}[@]}"; do printf '%s\\000' "$e"; done\n`).join("");
        const expected = Buffer.concat(lists.flatMap((list) => [String(list.length), ...list].map((v) => Buffer.concat([Buffer.from(v, "utf8"), Buffer.from([0])]))));
        for (const { name, run } of RUNNERS.filter((r) => r.name !== "/bin/sh -s")) {
          expect({ runner: name, stdout: stdoutOf(run(scriptWithArgs(`#!/usr/bin/env bash\nset -euo pipefail\n${body}`, vars)), name) }).toEqual({
            runner: name,
            stdout: expected,
          });
        }
      }),
      { seed: 20261202, numRuns: 150 },
    );
  });

  test("commandLine gives the remote shell exactly argv (/bin/sh -c, bash -c)", () => {
    fc.assert(
      fc.property(fc.array(hostileString, { minLength: 1, maxLength: 8 }), (args) => {
        const line = commandLine(["printf", "%s\\000", ...args]);
        const expected = Buffer.concat(args.map((arg) => Buffer.concat([Buffer.from(arg, "utf8"), Buffer.from([0])])));
        for (const shell of ["/bin/sh", "bash"]) {
          expect({ shell, stdout: stdoutOf(spawnSync(shell, ["-c", line]), shell) }).toEqual({ shell, stdout: expected });
        }
      }),
      { seed: 20240611, numRuns: 200 },
    );
  });
});
