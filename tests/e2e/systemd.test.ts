/**
 * The paths a real NixOS host takes, on the sandbox's real systemd: the activation as a transient unit
 * with the PATH it sets, verification waiting for a slow Immich, rollback when Immich never answers or
 * when the activation unit is killed, mounts repaired through their systemd mount units, and a typo'd
 * option refused at dry-activate with NixOS's wording.
 */
import { applyJobs, newJobStatus, Target, expectNoChanges, expectSuccess, hostState, waitFor } from "./helpers";

const target = new Target("sysd1");

const state = () => hostState(target);

type Report = { check: string; target: string; status: string; detail: string }[];
async function report(): Promise<Report> {
  return JSON.parse((await target.pulumi(["stack", "output", "verification", "--json"])).stdout) as Report;
}

const config = (extra: Record<string, unknown> = {}) => ({ config: { nixos: { confirmTimeoutSeconds: 30, verifyTimeoutSeconds: 60 }, ...extra } });

beforeAll(async () => {
  await target.create(config());
  // Immich answers only 20 s after it starts (a real one takes seconds to tens of seconds).
  await target.ssh("mkdir -p /etc/immich-standin && echo 20 > /etc/immich-standin/start-delay");
});

afterAll(async () => {
  await target.destroy();
});

test("verification waits for an Immich that answers only after 20 s, and passes; the activation ran as a transient unit with its own PATH", async () => {
  const result = await target.up();
  expectSuccess(result);
  expect(result.output).toMatch(/verification: waiting for http:\/\/127\.0\.0\.1:2283\/api\/server\/ping \(up to \d+s more\)/);
  const checks = await report();
  expect(checks.map((r) => `${r.check} ${r.status}`)).toEqual([
    "mount pass", "owner pass", "mount pass", "readable-by pass", "secret pass",
    "unit pass", "unit pass", "unit pass", "unit pass", "http pass", "unit pass", "http pass",
    // Last: the running system is the one the apply activated from its own commit.
    "system pass",
  ]);
  const ping = checks.find((c) => c.target === "http://127.0.0.1:2283/api/server/ping");
  const waited = Number(/waited (\d+)s/.exec(ping?.detail ?? "")?.[1]);
  expect(waited).toBeGreaterThan(0);
  // The container's journal: the job ran as a transient unit, and finished.
  const journal = await target.ssh("journalctl --no-pager -o cat | grep -E 'skylab-immich-apply-[0-9a-f]{16}\\.service' || true");
  expect(journal).toMatch(/Started skylab-immich-apply-[0-9a-f]{16}\.service/);
  expect(journal).toMatch(/skylab-immich-apply-[0-9a-f]{16}\.service: Deactivated successfully/);
  // Units start with a minimal PATH here, as on NixOS (no /usr/local/bin, where nixos-rebuild is):
  // the job found nixos-rebuild only through the PATH it sets.
  expect(await target.ssh("systemd-run --wait --quiet --pipe sh -c 'echo $PATH'")).toBe("/usr/bin:/bin\n");
  expect(await target.ssh("grep -h 'activating (nixos-rebuild test' /var/lib/skylab-immich/apply/log-*")).toContain(
    "PATH=/run/wrappers/bin:/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:",
  );
  expectNoChanges(await target.up());
}, 300_000);

/** A unit file's directive lines by section ("[Service] User=immich"), comments and blank lines left out. */
function unitLines(text: string): string[] {
  let section = "";
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (/^\[.*\]$/.test(line)) section = line;
    else if (line && !line.startsWith("#")) lines.push(`${section} ${line}`);
  }
  return lines.sort();
}

test("Immich's units are nixpkgs' own: the text the pinned nixpkgs' check.nix renders, only the program and PATH replaced", async () => {
  const oracle = "/usr/local/lib/nixos-rebuild-standin/nixpkgs-oracle";
  // check.nix (the subset's own entry point) over the host's configuration; nixos-extra.nix declares the
  // namespaces of configuration.nix that the subset does not know (time.timeZone).
  const rendered = JSON.parse(await target.ssh(
    `cd ${oracle} && nix-instantiate --eval --strict --json --readonly-mode check.nix ` +
      "--arg configuration '[ /usr/local/lib/nixos-rebuild-standin/nixos-extra.nix /etc/nixos/configuration.nix ]' 2>/dev/null",
  )) as { units: Record<string, string | null> };
  // nixpkgs' immich units, and the program's own oneshot as NixOS' systemd library renders it.
  for (const unit of ["immich-server", "immich-machine-learning", "immich-db-password"]) {
    const expected = unitLines(rendered.units[unit] ?? "");
    const running = unitLines(await target.ssh(`cat /etc/systemd/system/${unit}.service`));
    const replaced = (l: string) => /^\[Service\] (ExecStart=|Environment="PATH=)/.test(l);
    expect(running.filter((l) => !expected.includes(l)).filter((l) => !replaced(l))).toEqual(
      // The stand-in's own state, and immich-db-password's requiredBy (a .requires link on NixOS).
      unit === "immich-server" ? ["[Service] StateDirectory=immich-standin", "[Unit] Requires=immich-db-password.service"] : [],
    );
    expect(expected.filter((l) => !running.includes(l)).filter((l) => !replaced(l))).toEqual([]);
    expect(running.filter(replaced).map((l) => l.split("=")[0])).toEqual(expected.filter(replaced).map((l) => l.split("=")[0]));
  }
  const server = unitLines(rendered.units["immich-server"] ?? "");
  // What the verification relies on, from nixpkgs: the state directory, its umask, the mount it waits for.
  expect(server).toEqual(expect.arrayContaining([
    "[Service] StateDirectory=immich", "[Service] UMask=0077", "[Service] StateDirectoryMode=0700",
    "[Unit] RequiresMountsFor=/var/lib/immich", "[Service] User=immich",
  ]));
}, 120_000);

test("/var/lib/immich stays 0700 immich:immich across restarts of immich-server (its StateDirectoryMode); without it systemd sets 0755", async () => {
  await target.ssh("chmod 0750 /var/lib/immich && systemctl restart immich-server.service");
  expect((await target.ssh("stat -c '%a %U:%G' /var/lib/immich")).trim()).toBe("700 immich:immich");
  // Positive control, the behaviour this relies on: systemd sets a state directory's mode at every start
  // (StateDirectoryMode=, default 0755), also of one that exists with another mode.
  const probe = "skylab-mode-probe";
  try {
    await target.ssh(`install -d -m 0700 -o immich -g immich /var/lib/${probe} && ` +
      `systemd-run --wait --quiet -p User=immich -p StateDirectory=${probe} /bin/true`);
    expect((await target.ssh(`stat -c '%a' /var/lib/${probe}`)).trim()).toBe("755");
  } finally {
    await target.ssh(`rm -rf /var/lib/${probe}`);
  }
}, 120_000);

test("/var/lib/immich unmounted by hand: preview shows it, up remounts it through its systemd mount unit", async () => {
  await target.ssh("systemctl stop immich-server.service && umount /var/lib/immich");
  const preview = await target.preview("--diff");
  expect(preview.code).toBe(0);
  expect(preview.output).toContain("/var/lib/immich");
  const since = (await target.ssh("date '+%Y-%m-%d %H:%M:%S'")).trim();
  expectSuccess(await target.up());
  expect((await target.ssh("findmnt -rn -o FSROOT /var/lib/immich")).trim()).toBe("/@immich");
  expect(await target.ssh(`journalctl --no-pager -o cat --since '${since}' -u var-lib-immich.mount`)).toContain("Mounted var-lib-immich.mount");
  expect((await target.ssh("systemctl is-active var-lib-immich.mount immich-server.service")).trim().split("\n")).toEqual(["active", "active"]);
  expectNoChanges(await target.up());
}, 300_000);

test("Immich never answering: the host rolls back within the deadline and up names the check", async () => {
  const before = await state();
  await target.reconfigure(config({ nginx: { clientMaxBodySize: "60000M" }, nixos: { confirmTimeoutSeconds: 30, verifyTimeoutSeconds: 15 } }));
  await target.ssh("echo never > /etc/immich-standin/start-delay && systemctl stop immich-server.service");
  try {
    const failed = await target.up();
    expect(failed.code).not.toBe(0);
    expect(failed.output).toContain('verification failed: "check":"http","target":"http://127.0.0.1:2283/api/server/ping","status":"fail"');
    expect(failed.output).toMatch(/\(waited \d+s for http:\/\/127\.0\.0\.1:2283\/api\/server\/ping\)/);
    expect(failed.output).toContain("the host was restored");
    expect(await state()).toEqual(before);
  } finally {
    // The owner fixes Immich and restarts it; the next up converges.
    await target.ssh("echo 1 > /etc/immich-standin/start-delay && systemctl restart immich-server.service");
  }
  expectSuccess(await target.up());
}, 300_000);

test("the activation unit killed mid-activation: up fails with a clear message, never hangs, and the host is restored", async () => {
  const before = await state();
  await target.reconfigure(config({ nginx: { clientMaxBodySize: "70000M" } }));
  await target.ssh("echo 60 > /etc/nixos-rebuild-standin/delay-next-activation");
  const jobs = await applyJobs(target);
  const running = target.up();
  const listUnits = "systemctl list-units --plain --no-legend 'skylab-immich-apply-*' | awk '{print $1}'";
  const unit = (await waitFor("the apply job's unit", () => target.ssh(listUnits), (out) => out.trim() !== "")).trim();
  const job = await newJobStatus(target, jobs);
  expect(unit).toBe(`skylab-immich-apply-${job.token}.service`);
  await waitFor("the apply job to activate", job.status, (s) => s === "activating");
  await target.ssh(`systemctl kill --signal=SIGKILL ${unit}`);
  const failed = await running;
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain("the activation job died while activating");
  expect(failed.output).toContain("the host was restored");
  expect(await state()).toEqual(before);
  expectSuccess(await target.up());
}, 300_000);

test("a typo'd option in a module fails preview at dry-activate with NixOS's wording, before anything changes", async () => {
  const before = await state();
  await target.ssh(
    "cd /etc/nixos && printf '{ ... }:\\n{\\n  services.immich.prot = 2283;\\n}\\n' > modules/services/typo.nix && " +
      "sed -i 's#./modules/services/immich.nix#./modules/services/immich.nix ./modules/services/typo.nix#' configuration.nix && " +
      "git add -A && git -c user.name=t -c user.email=t@t commit -qm 'typo'",
  );
  const typoHead = (await target.ssh("git -C /etc/nixos rev-parse HEAD")).trim();
  await target.reconfigure(config({ nginx: { clientMaxBodySize: "80000M" } }));
  const failed = await target.up();
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain("The option `services.immich.prot' does not exist.");
  expect(failed.output).toContain("the configuration does not evaluate");
  expect(await state()).toEqual({ ...before, head: typoHead });
  await target.ssh("cd /etc/nixos && git -c user.name=t -c user.email=t@t revert --no-edit HEAD >/dev/null");
  expectSuccess(await target.up());
}, 300_000);
