/**
 * Every git command the program runs on the host, read from the source: the shell scripts (components/,
 * lib/, providers/) and the TypeScript that could build shell text there. A command that writes the index
 * (or might: any git command not known to be a reader) must go through git_locked, git_add or git_commit
 * (lib/remote/lib.sh), which take turns on one flock; `git status` must run as `git --no-optional-locks
 * status`, else it holds index.lock while it looks; `git diff` only with --cached (a work-tree diff
 * refreshes the index whatever --no-optional-locks says). Otherwise two scripts at once fail with
 * "Unable to create '.../index.lock': File exists" (tests/lib/remote/gitLock.test.ts shows both ways).
 * The positive controls give the checker the lines the scripts had before, and others a new script could
 * bring.
 */
import { spawnSync } from "child_process";
import { readdirSync, readFileSync } from "fs";
import { join, relative } from "path";

const root = join(__dirname, "..", "..", "..");

/** Commands that never write the index (nor take index.lock) in any form the checker accepts. */
const READERS = new Set([
  "rev-parse", "ls-files", "log", "show", "cat-file", "rev-list", "for-each-ref", "ls-tree", "show-ref",
  "merge-base", "diff-tree", "var", "version", "name-rev", "check-ignore", "check-attr", "grep", "blame",
  "count-objects", "shortlog", "cherry", "help",
]);

/** git's command names: this git's own list, and the usual ones should it be missing here. */
const GIT_COMMANDS = new Set([
  ...(spawnSync("git", ["--list-cmds=main,others,nohelpers"], { encoding: "utf8" }).stdout ?? "").split("\n").filter(Boolean),
  ...READERS,
  "add", "am", "apply", "archive", "bisect", "branch", "checkout", "checkout-index", "cherry-pick", "clean",
  "clone", "commit", "commit-tree", "config", "describe", "diff", "diff-files", "diff-index", "fetch", "gc",
  "init", "merge", "mv", "notes", "pull", "push", "read-tree", "rebase", "reset", "restore", "revert", "rm",
  "sparse-checkout", "stage", "stash", "status", "submodule", "switch", "symbolic-ref", "tag", "update-index",
  "update-ref", "worktree", "write-tree",
]);

/** The helpers of lib.sh: every git command they run takes its turn. */
const HELPERS = /(^|[^\w-])git_(locked|add|commit)(?![\w-])/;
/** `git` as a command word: not git_add, .git, /git, --git-dir, "git-dir". */
const GIT_WORD = /(?<![\w./-])git(?![\w.-])/g;
/** Global options of git that take the next word as their value. */
const OPTION_WITH_VALUE = new Set(["-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env"]);

export interface Violation {
  line: number;
  text: string;
  why: string;
}

/** The words of one command, up to the end of the command (a shell operator or a closing parenthesis). */
function commandWords(rest: string): string[] {
  const words: string[] = [];
  for (const raw of rest.trim().split(/\s+/)) {
    if (!raw) continue;
    const end = raw.search(/[;|&)<>`]/);
    if (end === 0) break;
    if (end > 0) {
      words.push(raw.slice(0, end));
      break;
    }
    words.push(raw);
  }
  return words;
}

const unquote = (word: string) => word.replace(/^["']|["']$/g, "");

/** Lines of code: shell comments (or, for TypeScript, comments) blanked, line numbers kept. */
function codeLines(text: string, language: "sh" | "ts"): string[] {
  if (language === "ts") {
    text = text.replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, " "));
    return text.split("\n").map((line) => line.replace(/(^|\s)\/\/.*$/, ""));
  }
  return text.split("\n").map((line) => (/^\s*#/.test(line) ? "" : line.replace(/\s#\s.*$/, "")));
}

/** The git commands in `text` that could take index.lock outside git_locked. */
export function gitViolations(text: string, language: "sh" | "ts" = "sh"): Violation[] {
  const violations: Violation[] = [];
  codeLines(text, language).forEach((code, index) => {
    for (const match of code.matchAll(GIT_WORD)) {
      const before = code.slice(0, match.index);
      const words = commandWords(code.slice(match.index! + match[0].length));
      const globals: string[] = [];
      let i = 0;
      while (i < words.length) {
        const word = unquote(words[i]);
        if (OPTION_WITH_VALUE.has(word)) {
          globals.push(word, words[i + 1] ?? "");
          i += 2;
        } else if (word.startsWith("-") || /^"?\$\{\w+\[@\]\}"?$/.test(words[i])) {
          globals.push(word);
          i += 1;
        } else break;
      }
      if (i >= words.length) continue;
      const subcommand = words[i];
      const args = words.slice(i + 1).map(unquote);
      const report = (why: string) => violations.push({ line: index + 1, text: code.trim(), why });
      if (subcommand.startsWith("$") || subcommand.startsWith('"$')) {
        // Only git_locked itself runs a git command it does not name, and under flock.
        if (!/^\s*git_locked\(\)\s*\{\s*flock\s/.test(code)) report(`git ${subcommand}: a git command that is not named cannot be checked; run it through git_locked`);
        continue;
      }
      const name = unquote(subcommand);
      if (!GIT_COMMANDS.has(name)) continue; // prose: "not a git repository", "git knows"
      const noOptionalLocks = globals.includes("--no-optional-locks") || /GIT_OPTIONAL_LOCKS=0\s+(\S+\s+)*$/.test(before);
      if (READERS.has(name)) continue;
      if (name === "status") {
        if (!noOptionalLocks) report("git status takes index.lock to refresh the index: run it as `git --no-optional-locks status`");
        continue;
      }
      if (name === "diff") {
        if (!args.includes("--cached") && !args.includes("--staged")) {
          report("a work-tree git diff refreshes the index (taking index.lock, --no-optional-locks or not): use --cached, or git_locked");
        }
        continue;
      }
      if (name === "describe" && !args.some((a) => a.startsWith("--dirty") || a.startsWith("--broken"))) continue;
      if (name === "config") {
        const positional = args.filter((a) => !a.startsWith("-"));
        if (args.some((a) => /^(--get|--get-all|--get-regexp|-l|--list)$/.test(a)) || positional.length <= 1) continue;
      }
      report(`git ${name} writes (or may write) the index or the repository: run it through git_locked (lib/remote/lib.sh)`);
    }
  });
  return violations;
}

function filesUnder(dir: string, extensions: string[]): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : filesUnder(path, extensions);
    return extensions.some((ext) => entry.name.endsWith(ext)) ? [path] : [];
  });
}

const HOST_SHELL = ["components", "lib", "providers"].flatMap((dir) => filesUnder(dir, [".sh"]));
const SHELL_BUILDERS = [...["components", "lib", "providers"].flatMap((dir) => filesUnder(dir, [".ts"])), "index.ts"];

describe("git in the host scripts: writers through git_locked, readers without index.lock", () => {
  test("the scripts that run git in the config repo are among those checked", () => {
    for (const file of ["lib/remote/lib.sh", "lib/remote/host-facts.sh", "components/shell/nixos-apply.sh",
      "components/shell/module-file-write.sh", "components/shell/module-file-remove.sh",
      "components/shell/sops-secret-set.sh", "components/shell/sops-secret-remove.sh", "components/units/immich-db-password.sh"]) {
      expect(HOST_SHELL).toContain(file);
    }
    expect(SHELL_BUILDERS).toEqual(expect.arrayContaining(["lib/remote/hostFacts.ts", "components/NixModuleFile.ts", "index.ts"]));
  });

  test.each(HOST_SHELL)("%s", (file) => {
    expect(gitViolations(readFileSync(join(root, file), "utf8"), "sh").map((v) => `${file}:${v.line}: ${v.text}: ${v.why}`)).toEqual([]);
  });

  test("TypeScript that builds shell text runs no git of its own that could take index.lock", () => {
    const found = SHELL_BUILDERS.flatMap((file) =>
      gitViolations(readFileSync(join(root, file), "utf8"), "ts").map((v) => `${relative(root, join(root, file))}:${v.line}: ${v.text}: ${v.why}`));
    expect(found).toEqual([]);
  });

  test("lib.sh: git_locked runs git under the flock of the git dir, and git_add and git_commit go through it", () => {
    const lib = readFileSync(join(root, "lib", "remote", "lib.sh"), "utf8");
    expect(lib).toContain('git_locked() { flock "$(git -C "$REPO" rev-parse --absolute-git-dir)/skylab-immich.lock" git -C "$REPO" "$@"; }');
    expect(lib).toContain("git_add() { git_locked add \"$@\"; }");
    expect(lib).toMatch(/git_commit\(\) \{[^}]*\n {2}git_locked "\$\{identity\[@\]\}" commit "\$@"\n\}/);
  });
});

describe("the checker (positive controls)", () => {
  // The git lines of the scripts before every writer took turns, verbatim.
  test.each<[string, RegExp]>([
    ['  foreign=$(git status --porcelain -- . "${excludes[@]}")', /--no-optional-locks status/],
    ['  printf \',"foreignChanges":%s\' "$(git -C "$REPO" status --porcelain -- . "${excludes[@]}" 2>/dev/null | json_lines || true)"', /--no-optional-locks status/],
    ['  git add -A -- "${OWNED[@]}"', /git add writes/],
    ['    git reset -q --hard "$PREV_COMMIT"', /git reset writes/],
    ['  git -C "$REPO" reset -q --hard "$PREV_COMMIT"', /git reset writes/],
    ['  flock "$(git -C "$REPO" rev-parse --absolute-git-dir)/skylab-immich.lock" git -C "$REPO" "${identity[@]}" commit "$@"', /git commit writes/],
    ['git_add() { flock "$(git -C "$REPO" rev-parse --absolute-git-dir)/skylab-immich.lock" git -C "$REPO" add "$@"; }', /git add writes/],
  ])("flags the former %s", (line, why) => {
    const found = gitViolations(`set -euo pipefail\n${line}\n`);
    expect(found).toHaveLength(1);
    expect(found[0].line).toBe(2);
    expect(found[0].why).toMatch(why);
  });

  test.each<[string, RegExp]>([
    ['git -C "$REPO" rm --cached -q -- "$RELPATH"', /git rm writes/],
    ['if ! git -C "$REPO" checkout -- "$RELPATH"; then', /git checkout writes/],
    ['out=$(git stash push -q)', /git stash writes/],
    ['git -C "$REPO" update-index --refresh >/dev/null', /git update-index writes/],
    ['git -C "$REPO" restore --staged "$RELPATH"', /git restore writes/],
    ['git -C "$REPO" -c user.name=x commit -q -m "$message"', /git commit writes/],
    ['git -C "$REPO" --no-optional-locks add -- x', /git add writes/],
    ['git -C "$REPO" diff --quiet -- "$SOPS_FILE"', /work-tree git diff/],
    ['git --no-optional-locks diff --quiet', /work-tree git diff/],
    ['git describe --dirty', /git describe writes/],
    ['git -C "$REPO" config user.email x@y', /git config writes/],
    ['git -C "$REPO" merge --ff-only "$BRANCH"', /git merge writes/],
    ['  [ -n "$(git status --short)" ] && die dirty', /--no-optional-locks status/],
    ['run() { git -C "$REPO" "$@"; }', /not named/],
    ['  git_commit -q -m x -- a; git add b', /git add writes/],
  ])("flags a new %s", (line, why) => {
    const found = gitViolations(`${line}\n`);
    expect(found.map((v) => v.why)).toEqual([expect.stringMatching(why)]);
  });

  test("flags shell text in TypeScript, and reads past its comments", () => {
    const ts = [
      "/** `git status --porcelain` lines of uncommitted changes. */",
      "// git add -A is how it used to stage",
      'const script = `cd "$REPO" && git add -A && echo staged`;',
    ].join("\n");
    expect(gitViolations(ts, "ts").map((v) => v.line)).toEqual([3]);
  });

  test.each([
    'git -C "$REPO" --no-optional-locks status --porcelain -- . "${excludes[@]}"',
    'foreign=$(git --no-optional-locks status --porcelain -- .)',
    'GIT_OPTIONAL_LOCKS=0 git status --porcelain',
    'git_locked reset -q --hard "$PREV_COMMIT"',
    'git_add -A -- "${OWNED[@]}"',
    'git_commit -q -m "$message" -- "${OWNED[@]}"',
    'if git diff --cached --quiet; then',
    '  if ! git -C "$REPO" diff --cached --quiet -- "$SOPS_FILE"; then',
    'PREV_COMMIT=$(git rev-parse HEAD)',
    'git -C "$REPO" config user.email >/dev/null || identity=()',
    'echo "$REPO is not a git repository: check `nixos.configRepo`" >&2',
    '# git add, git reset, git status in a comment',
    'git_locked() { flock "$(git -C "$REPO" rev-parse --absolute-git-dir)/skylab-immich.lock" git -C "$REPO" "$@"; }',
    'export const REQUIRED_TOOLS = ["btrfs", "rsync", "git", "sops"] as const;',
    'mkdir -p "$REPO/.git/hooks"; ls "$(git -C "$REPO" rev-parse --absolute-git-dir)"',
  ])("accepts %s", (line) => {
    expect(gitViolations(`${line}\n`)).toEqual([]);
  });
});
