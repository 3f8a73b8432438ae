/**
 * The database password in use (`immich.databaseMode: tcp`) against a real PostgreSQL: the immich role gets
 * the sops secret as its password (immich-db-password.service), Immich (the stand-in) logs in over
 * 127.0.0.1 with it, another password is refused, rotating `dbPassword` changes both sides, the password is
 * in no log, and going back to the socket login removes the oneshot.
 */
import { randomBytes } from "crypto";
import { Target, expectNoChanges, expectSuccess, shellWord } from "./helpers";

const target = new Target("db1");
// Characters an EnvironmentFile and SQL quoting must both carry (see the README's dbPassword notes).
const password = (label: string) => `Db1-${label}-${randomBytes(9).toString("base64url")}_%+,./:=@^~`;
const FIRST = password("first");
const SECOND = password("second");
const TCP = { immich: { databaseMode: "tcp" } };
const outputs: string[] = [];

async function record(run: ReturnType<Target["up"]>): ReturnType<Target["up"]> {
  const result = await run;
  outputs.push(result.output);
  return result;
}

/** A login over TCP as Immich makes it; the password reaches psql in its environment, from a file. */
async function loginWith(value: string): Promise<{ code: number; stdout: string; stderr: string }> {
  await target.ssh(`umask 077; printf %s ${shellWord(value)} > /root/try-password`);
  const result = await target.sshResult(
    "PGPASSWORD=$(cat /root/try-password) PGCONNECT_TIMEOUT=5 psql --no-psqlrc -h 127.0.0.1 -p 5432 -U immich -d immich " +
    "--tuples-only --no-align --command 'SELECT current_user'");
  await target.ssh("rm -f /root/try-password");
  return result;
}

const journal = (unit: string) => target.ssh(`journalctl --no-pager -o cat -u ${unit}`);

beforeAll(async () => {
  await target.create({ dbPassword: FIRST, config: TCP });
});

afterAll(async () => {
  await target.destroy();
});

test("up in tcp mode: the role's password is the secret, Immich logs in with it over 127.0.0.1, verification covers both", async () => {
  expectSuccess(await record(target.up()));
  expect(await target.ssh("systemctl is-active postgresql.service immich-db-password.service immich-server.service"))
    .toBe("active\nactive\nactive\n");
  expect(await loginWith(FIRST)).toStrictEqual({ code: 0, stdout: "immich\n", stderr: "" });
  expect(await journal("immich-server.service")).toContain("connected to PostgreSQL (immich on 127.0.0.1:5432 as immich, role immich)");
  const report = JSON.parse((await target.pulumi(["stack", "output", "verification", "--json"])).stdout) as { check: string; target: string; status: string }[];
  expect(report.filter((r) => r.check === "unit").map((r) => `${r.target} ${r.status}`)).toEqual([
    "postgresql.service pass", "immich-db-password.service pass", "immich-server.service pass",
    "immich-machine-learning.service pass", "nginx.service pass",
  ]);
});

test("another password is refused over TCP, by PostgreSQL's md5/scram rule", async () => {
  const wrong = await loginWith("not-the-password");
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toContain('password authentication failed for user "immich"');
  expect(wrong.stdout).toBe("");
});

test("a second up changes nothing and does not restart Immich", async () => {
  const logins = (await journal("immich-server.service")).split("connected to PostgreSQL").length;
  expectNoChanges(await record(target.up()));
  expect((await journal("immich-server.service")).split("connected to PostgreSQL").length).toBe(logins);
});

test("rotating dbPassword changes both sides: the new one logs in, the old one is refused, Immich logs in again", async () => {
  const logins = (await journal("immich-server.service")).split("connected to PostgreSQL").length;
  await target.reconfigure({ dbPassword: SECOND, config: TCP });
  const rotated = await record(target.up());
  expectSuccess(rotated);
  expect(await target.ssh("cat /run/secrets/immich/db_password")).toBe(SECOND);
  expect(await loginWith(SECOND)).toStrictEqual({ code: 0, stdout: "immich\n", stderr: "" });
  const old = await loginWith(FIRST);
  expect(old.code).toBe(2);
  expect(old.stderr).toContain('password authentication failed for user "immich"');
  // Immich was restarted by the secret's change and logged in with the new password.
  expect((await journal("immich-server.service")).split("connected to PostgreSQL").length).toBe(logins + 1);
  expect(await target.ssh("systemctl is-active immich-server.service")).toBe("active\n");
}, 300_000);

test("nothing logged: neither password is in the journal (PostgreSQL's log included) or the engine's output", async () => {
  const everything = await target.ssh("journalctl --no-pager -o cat");
  // Positive control: a marker written to the journal is found by the same search.
  const marker = `Db1-control-${randomBytes(6).toString("hex")}`;
  await target.ssh(`systemd-cat -t db-test echo ${marker} && journalctl --sync`);
  expect(await target.ssh("journalctl --no-pager -o cat")).toContain(marker);
  expect(everything).toContain("immich-db-password: the password of PostgreSQL role immich is the sops secret's");
  for (const secret of [FIRST, SECOND]) {
    expect(everything).not.toContain(secret);
    for (const output of outputs) expect(output).not.toContain(secret);
  }
  expect(outputs.length).toBe(3);
  expect(outputs.join("\n")).toContain("immich-db-password");
  // PostgreSQL keeps a SCRAM verifier, not the password.
  expect(await target.ssh("runuser -u postgres -- psql --no-psqlrc -tAc \"SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'immich'\""))
    .toBe("SCRAM-SHA-256$\n");
});

test("back to the socket login: the oneshot is gone, Immich logs in by peer authentication", async () => {
  await target.reconfigure({ dbPassword: SECOND, config: { immich: { databaseMode: "socket" } } });
  expectSuccess(await target.up());
  expect((await target.sshResult("systemctl cat immich-db-password.service")).code).not.toBe(0);
  expect(await journal("immich-server.service")).toContain("connected to PostgreSQL (immich on /run/postgresql, role immich)");
  expect(await target.ssh("systemctl is-active immich-server.service postgresql.service")).toBe("active\nactive\n");
}, 300_000);
