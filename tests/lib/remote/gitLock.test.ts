/**
 * git in the config repo from several host scripts at once (lib/remote/lib.sh). Every git command that
 * writes the index goes through git_locked (git_add and git_commit do), in turn on one flock; readers run
 * as the host scripts run them (`git --no-optional-locks status`, `git diff --cached`) and never take
 * index.lock. Against a local repository: many writers beside looping readers meet no index.lock, and the
 * same harness with the former commands (plain `git status`, plain `git add`/`git commit`) does meet
 * "Unable to create '.../index.lock': File exists", the error a first converge failed with. The
 * deterministic controls hold a reader inside its look (its untracked scan blocked on a FIFO .gitignore)
 * or hold the lock by hand, so they do not depend on timing. Every wait is on an event: a line, an exit,
 * a file, a blocked lock in /proc/locks.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import { EventEmitter } from "events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

const LIB = readFileSync(join(__dirname, "..", "..", "..", "lib", "remote", "lib.sh"), "utf8");
// No user's or system's git configuration: identities, hooks and fsmonitor are the repository's own.
const GIT_ENV = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" };
const INDEX_LOCK = /index\.lock/;

/** Fired whenever a process started here prints a line or ends, or a poll of a file is due. */
const changes = new EventEmitter();
changes.setMaxListeners(0);

function waitFor(what: string, check: () => boolean, failed: () => string | undefined = () => undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const look = () => {
      if (check()) {
        changes.off("change", look);
        resolve();
        return;
      }
      const why = failed();
      if (why !== undefined) {
        changes.off("change", look);
        reject(new Error(`${what}: ${why}`));
      }
    };
    changes.on("change", look);
    look();
  });
}

/** A bash process with lib.sh's functions after `set -euo pipefail`, as loadScript places them. */
class Bash {
  readonly lines: string[] = [];
  stderr = "";
  code: number | null = null;
  readonly exited: Promise<number>;
  readonly child: ChildProcess;

  constructor(body: string, env: Record<string, string>, args: string[] = []) {
    this.child = spawn("bash", ["-c", `set -euo pipefail\n${LIB}\n${body}`, "bash", ...args], {
      env: { ...process.env, ...GIT_ENV, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    running.add(this.child);
    let buffer = "";
    this.child.stdout!.on("data", (data: Buffer) => {
      buffer += data.toString();
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        this.lines.push(buffer.slice(0, end));
        buffer = buffer.slice(end + 1);
      }
      changes.emit("change");
    });
    this.child.stderr!.on("data", (data: Buffer) => (this.stderr += data.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code) => {
        running.delete(this.child);
        this.code = code ?? -1;
        changes.emit("change");
        resolve(this.code);
      });
    });
  }

  count(prefix: string): number {
    return this.lines.filter((line) => line.startsWith(prefix)).length;
  }

  /** Why waiting on this process is over: it ended. */
  ended = (): string | undefined => (this.code === null ? undefined : `the process ended (exit ${this.code}): ${this.stderr}${this.lines.join("\n")}`);
}

const running = new Set<ChildProcess>();
const dirs: string[] = [];

afterEach(() => {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function bashSync(body: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync("bash", ["-c", `set -euo pipefail\n${LIB}\n${body}`], {
    env: { ...process.env, ...GIT_ENV, ...env },
    encoding: "utf8",
    // A safety net, not a wait: these commands either finish at once or are a bug.
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function mustSync(body: string, env: Record<string, string>): string {
  const result = bashSync(body, env);
  if (result.status !== 0) throw new Error(`exit ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/** A fresh repository with `files` committed files (more files: a longer look for `git status`). */
function newRepo(files: Record<string, string>, identity = true): string {
  const dir = mkdtempSync(join(tmpdir(), "skylab-git-lock-"));
  dirs.push(dir);
  const repo = join(dir, "repo");
  mkdirSync(repo);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(repo, name, ".."), { recursive: true });
    writeFileSync(join(repo, name), text);
  }
  mustSync(
    `git init -q "$REPO"
${identity ? 'git -C "$REPO" config user.name tester; git -C "$REPO" config user.email tester@localhost' : ""}
git -C "$REPO" add -A
git -C "$REPO" -c user.name=setup -c user.email=setup@localhost commit -q -m init`,
    { REPO: repo },
  );
  return repo;
}

const manyFiles = (n: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`modules/m${i}.nix`, `{ }: { } # ${i}\n`]));

describe("git_add, git_commit, git_locked: behaviour", () => {
  test("git_add stages and git_commit commits the given paths; without a repo identity git_commit signs as skylab-immich", () => {
    const repo = newRepo({ "configuration.nix": "{ }\n" }, false);
    const env = { REPO: repo };
    mustSync(`echo '{ a = 1; }' >"$REPO/a.nix"; echo '{ b = 1; }' >"$REPO/b.nix"; git_add -- a.nix b.nix; git_commit -q -m first -- a.nix`, env);
    expect(mustSync('git -C "$REPO" log -1 --format="%an <%ae> %s" ; git -C "$REPO" --no-optional-locks status --porcelain', env))
      .toBe("skylab-immich <skylab-immich@localhost> first\nA  b.nix\n");
    mustSync('git_locked reset -q --hard HEAD~1', env);
    expect(mustSync('git -C "$REPO" log --format=%s; git -C "$REPO" --no-optional-locks status --porcelain', env)).toBe("init\n");
  });
});

describe("a reader inside its look: plain git status holds index.lock, --no-optional-locks does not", () => {
  // The reader's untracked scan opens z/.gitignore, then z/y/.gitignore, both FIFOs: it stops in each open
  // until the test opens the FIFO for writing. Past the first one it is past the point where git status
  // takes its optional index.lock (builtin/commit.c: cmd_status locks, then wt_status_collect scans), and it
  // cannot finish before the second one is opened.
  async function readerInsideItsLook(optionalLocks: boolean) {
    const repo = newRepo({ "w/a": "a\n", "z/b": "b\n", "z/y/c": "c\n" });
    const env = { REPO: repo };
    mustSync('mkfifo "$REPO/z/.gitignore" "$REPO/z/y/.gitignore"', env);
    const reader = new Bash(`git -C "$REPO" ${optionalLocks ? "" : "--no-optional-locks "}status --porcelain`, env);
    const gate = (fifo: string) => new Bash(`exec 3>"$REPO/${fifo}"`, env).exited;
    expect(await gate("z/.gitignore")).toBe(0);
    const lockHeld = existsSync(join(repo, ".git", "index.lock"));
    // A writer of the index beside it, as the host scripts write: through the lock.
    const writer = bashSync('echo changed >"$REPO/w/a"; git_add -- w/a', env);
    expect(await gate("z/y/.gitignore")).toBe(0);
    expect(await reader.exited).toBe(0);
    const staged = mustSync('git -C "$REPO" diff --cached --name-only', env);
    return { lockHeld, writer, staged };
  }

  test("positive control: plain `git status` (as the scripts ran it) holds index.lock, and git_add beside it fails on it", async () => {
    const { lockHeld, writer, staged } = await readerInsideItsLook(true);
    expect(lockHeld).toBe(true);
    expect(writer.status).not.toBe(0);
    expect(writer.stderr).toMatch(/fatal: Unable to create '[^']*index\.lock': File exists/);
    expect(staged).toBe("");
  }, 120_000);

  test("`git --no-optional-locks status` (as the scripts run it now) holds no index.lock: git_add beside it succeeds", async () => {
    const { lockHeld, writer, staged } = await readerInsideItsLook(false);
    expect(lockHeld).toBe(false);
    expect(writer.stderr).toBe("");
    expect(writer.status).toBe(0);
    expect(staged).toBe("w/a\n");
  }, 120_000);
});

describe("a writer holding the lock", () => {
  test("an unguarded git add fails on its index.lock; git_add waits its turn and succeeds; readers never wait nor fail", async () => {
    const repo = newRepo({ "configuration.nix": "{ }\n" });
    const dir = join(repo, "..");
    const env = { REPO: repo, LOG: join(dir, "order.log") };
    // A writer inside git_locked, stopped while it holds index.lock: the lock by flock, index.lock by hand.
    const holder = new Bash(
      `exec 9>"$(git -C "$REPO" rev-parse --absolute-git-dir)/skylab-immich.lock"
flock 9
: >"$REPO/.git/index.lock"
echo held
read -r _
echo released >>"$LOG"
rm -f "$REPO/.git/index.lock"`,
      env,
    );
    await waitFor("the holder takes the lock", () => holder.lines.includes("held"), holder.ended);
    mustSync('echo "{ x = 1; }" >"$REPO/x.nix"', env);

    const unguarded = bashSync('git -C "$REPO" add -- x.nix', env);
    expect(unguarded.status).not.toBe(0);
    expect(unguarded.stderr).toMatch(/fatal: Unable to create '[^']*index\.lock': File exists/);

    // Readers as the host scripts run them go on while index.lock exists.
    const readers = bashSync(
      `git -C "$REPO" --no-optional-locks status --porcelain -- . ':(exclude)configuration.nix'
git -C "$REPO" diff --cached --quiet && echo "nothing staged"`,
      env,
    );
    expect(readers).toEqual({ status: 0, stdout: "?? x.nix\nnothing staged\n", stderr: "" });

    const guarded = new Bash('git_add -- x.nix; echo added >>"$LOG"', env);
    // It waits: a blocked flock request on the lock file appears in /proc/locks ("->").
    const inode = statSync(join(repo, ".git", "skylab-immich.lock")).ino;
    const poll = setInterval(() => changes.emit("change"), 20);
    try {
      await waitFor(
        "git_add waits on the lock",
        () => readFileSync("/proc/locks", "utf8").split("\n").some((line) => line.includes("->") && line.endsWith(`:${inode} 0 EOF`)),
        guarded.ended,
      );
    } finally {
      clearInterval(poll);
    }
    holder.child.stdin!.end("release\n");
    expect(await holder.exited).toBe(0);
    expect(await guarded.exited).toBe(0);
    expect(guarded.stderr).toBe("");
    expect(readFileSync(env.LOG, "utf8")).toBe("released\nadded\n");
    expect(mustSync('git -C "$REPO" diff --cached --name-only', env)).toBe("x.nix\n");
  }, 120_000);
});

type Commands = "as now" | "plain";

/**
 * Writers (each: write its file, stage, unstage, stage, commit it) beside looping readers (two `git status`,
 * one `git diff --cached`), in one repository. Readers start first; writers start once every reader has
 * looked once, and stop (at their next iteration) when the test creates the stop file: as now, once every
 * writer has done `minimum` iterations and every reader has looked `readerLooks` times since the writers
 * started; the controls, at the first index.lock failure. A writer stops by itself after `cap` iterations.
 */
async function race(options: { readers: Commands; writers: Commands; stopAtIndexLock: boolean }) {
  const writerCount = 4;
  const minimum = 12;
  const readerLooks = 6;
  const cap = 2000;
  const repo = newRepo(manyFiles(150));
  const dir = join(repo, "..");
  const stop = join(dir, "stop");
  const env = { REPO: repo, STOP: stop, CAP: String(cap) };
  const optional = options.readers === "as now" ? "--no-optional-locks " : "";
  // A reader loops until its standard input ends; a failed look prints `fail`, a good one `look`.
  const readerLoop = (command: string) => `set +e
while ! read -r -t 0; do
  out=$(${command} 2>&1)
  rc=$?
  if [ "$rc" -eq 0 ] || { [ "$rc" -eq 1 ] && [ -z "$out" ]; }; then echo look; else printf 'fail %s\\n' "\${out//$'\\n'/ }"; fi
done`;
  const readers = [
    new Bash(readerLoop(`git -C "$REPO" ${optional}status --porcelain -- . ':(exclude)w1'`), env),
    new Bash(readerLoop(`git -C "$REPO" ${optional}status --porcelain`), env),
    new Bash(readerLoop('git -C "$REPO" diff --cached --quiet'), env),
  ];
  await Promise.all(readers.map((r, i) => waitFor(`reader ${i} looks once`, () => r.count("look") > 0, r.ended)));

  const step = options.writers === "as now"
    ? 'git_add -- "w$W" && git_locked reset -q -- "w$W" && git_add -- "w$W" && git_commit -q -m "w$W $k" -- "w$W"'
    : 'git -C "$REPO" add -- "w$W" && git -C "$REPO" reset -q -- "w$W" && git -C "$REPO" add -- "w$W" && git -C "$REPO" commit -q -m "w$W $k" -- "w$W"';
  const looksBefore = readers.map((r) => r.count("look"));
  const writers = Array.from({ length: writerCount }, (_, i) => new Bash(`set +e
for ((k = 1; ; k++)); do
  [ -e "$STOP" ] && break
  [ "$k" -le "$CAP" ] || { echo cap; break; }
  printf '%s %s\\n' "$W" "$k" >"$REPO/w$W"
  if out=$( { ${step}; } 2>&1); then echo "ok $k"; else printf 'fail %s\\n' "\${out//$'\\n'/ }"; fi
done`, { ...env, W: String(i + 1) }));

  const failures = () => [...readers, ...writers].flatMap((p) => p.lines.filter((line) => line.startsWith("fail ")));
  const writersDone = () => writers.every((w) => w.code !== null);
  if (options.stopAtIndexLock) {
    await waitFor("a writer fails on index.lock", () => failures().some((f) => INDEX_LOCK.test(f)) || writersDone());
  } else {
    await waitFor(
      "every writer and every reader is well into the race",
      () => writers.every((w) => w.count("ok ") >= minimum) && readers.every((r, i) => r.count("look") - looksBefore[i] >= readerLooks),
      () => (writersDone() ? "the writers stopped early" : undefined),
    );
  }
  writeFileSync(stop, "");
  const writerCodes = await Promise.all(writers.map((w) => w.exited));
  for (const r of readers) r.child.stdin!.end();
  const readerCodes = await Promise.all(readers.map((r) => r.exited));
  return {
    repo, env, writers, readers, writerCodes, readerCodes, failures: failures(),
    capped: writers.some((w) => w.lines.includes("cap")),
    iterations: writers.reduce((sum, w) => sum + w.count("ok "), 0),
  };
}

describe("many writers beside looping readers", () => {
  test("as the scripts run git now (git_locked writers, --no-optional-locks readers): no index.lock, no failure, every commit made", async () => {
    const r = await race({ readers: "as now", writers: "as now", stopAtIndexLock: false });
    expect(r.failures).toEqual([]);
    expect(r.capped).toBe(false);
    expect(r.writerCodes).toEqual([0, 0, 0, 0]);
    expect(r.readerCodes).toEqual([0, 0, 0]);
    // One commit per writer iteration, on top of the first, and nothing left staged or changed.
    expect(mustSync('git -C "$REPO" rev-list --count HEAD', r.env)).toBe(`${r.iterations + 1}\n`);
    expect(mustSync('git -C "$REPO" --no-optional-locks status --porcelain', r.env)).toBe("");
  }, 300_000);

  test.each<[string, Commands, Commands]>([
    ["plain `git status` beside plain `git add`/`git commit`", "plain", "plain"],
    ["plain `git status` beside git_add/git_commit (the scripts before: only staging and committing took turns)", "plain", "as now"],
  ])("positive control, the same harness with %s: a writer fails on index.lock", async (_name, readers, writers) => {
    const r = await race({ readers, writers, stopAtIndexLock: true });
    expect(r.failures.find((f) => INDEX_LOCK.test(f))).toMatch(/fatal: Unable to create '[^']*index\.lock': File exists/);
  }, 300_000);
});
