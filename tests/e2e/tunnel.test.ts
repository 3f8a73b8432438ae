/**
 * The Cloudflare Tunnel with the real engine: off by default nothing of it is on the host; on, its module
 * evaluates, the credentials reach /run/secrets through sops-nix (root:root 0400) and nowhere else, the
 * tunnel's unit (the sandbox's stand-in: it reads the credentials, it cannot reach Cloudflare) runs and is
 * verified, nginx answers the public name; turned off, its module, sops key, secret and unit are gone.
 */
import { execFileSync } from "child_process";
import { readConnection } from "../../sandbox";
import { runPulumi } from "../../sandbox/stack";
import { ProcessSampler, Target, expectNoChanges, expectSuccess, shellWord } from "./helpers";

const TUNNEL_ID = "6ff42ae2-765d-4adf-8112-31c55c1551ef";
const UNIT = `cloudflared-tunnel-${TUNNEL_ID}.service`;
// Quotes, `$` and a backtick inside the JSON: it must reach sops-nix intact and leak nowhere.
const MARK = "Tq7-poison";
const CREDENTIALS = JSON.stringify({ AccountTag: "acc", TunnelSecret: `${MARK}'"$HOME\`id\`-c0ffee`, TunnelID: TUNNEL_ID });
const GENERATED = "/etc/nixos/modules/generated/skylab-immich";
const KEY = `'["cloudflared"]["credentials"]'`;
const extract = `SOPS_DISABLE_VERSION_CHECK=true SOPS_AGE_KEY_FILE=/var/lib/sops-nix/key.txt sops decrypt --extract ${KEY} /etc/nixos/secrets/secrets.yaml`;
const target = new Target("tun1");
const outputs: string[] = [];
let sampler: ProcessSampler | undefined;

async function record<T extends { output: string }>(run: Promise<T>): Promise<T> {
  const result = await run;
  outputs.push(result.output);
  return result;
}

async function generatedFiles(): Promise<string[]> {
  return (await target.ssh(`ls ${GENERATED}`)).trim().split("\n");
}

/** What of the tunnel is on the host: its modules, its sops key, its secret, its unit. */
async function tunnelOnHost(): Promise<string[]> {
  const found = (await generatedFiles()).filter((f) => f.startsWith("cloudflared"));
  if ((await target.sshResult(`${extract} >/dev/null 2>&1`)).code === 0) found.push("sops key cloudflared/credentials");
  if ((await target.sshResult("test -e /run/secrets/cloudflared/credentials")).code === 0) found.push("/run/secrets/cloudflared/credentials");
  const units = (await target.ssh("ls /etc/systemd/system | grep '^cloudflared' || true")).trim();
  if (units) found.push(...units.split("\n"));
  return found;
}

const BASE_REPORT = [
  "mount pass", "owner pass", "mount pass", "readable-by pass", "secret pass", "unit pass", "unit pass", "unit pass", "unit pass", "http pass", "unit pass",
  "http pass",
];

beforeAll(async () => {
  await target.create({ dbPassword: "db-pw-tun1" });
  sampler = new ProcessSampler();
});

afterAll(async () => {
  sampler?.stop();
  await target.destroy();
});

test("tunnel off by default: up converges and nothing of the tunnel is on the host", async () => {
  expectSuccess(await record(target.up()));
  expect(await generatedFiles()).toEqual(["default.nix", "immich.nix", "nginx.nix", "secrets.nix", "storage-media-immich.nix", "storage-var-lib-immich.nix"]);
  expect(await tunnelOnHost()).toEqual([]);
  expect(await target.ssh("grep -c cloudflared " + `${GENERATED}/default.nix ${GENERATED}/nginx.nix || true`)).toBe(`${GENERATED}/default.nix:0\n${GENERATED}/nginx.nix:0\n`);
});

test("tunnel on: the module evaluates, the credentials reach /run/secrets root:root 0400, the unit runs, nginx answers the public name", async () => {
  for (const [path, value] of [["tunnel.enabled", "true"], ["tunnel.tunnelId", TUNNEL_ID], ["tunnel.publicHostName", "photos.example.com"]]) {
    expectSuccess(await target.pulumi(["config", "set", "--path", path, value]));
  }
  expectSuccess(await runPulumi(["config", "set", "--secret", "--stack", target.stack, "tunnelCredentials"], { input: CREDENTIALS }));
  const up = await record(target.up());
  expectSuccess(up);
  // The stand-in says which part it does not check.
  expect(await target.ssh("nixos-rebuild dry-activate 2>&1 | grep 'not realized: services.cloudflared'")).toBe(
    "declared, not realized: services.cloudflared: each cloudflared-tunnel-<id> unit runs a stand-in that reads its credentials " +
    "(NOT cloudflared); the connection to Cloudflare is not made\n",
  );
  expect(await generatedFiles()).toEqual([
    "cloudflared-secrets.nix", "cloudflared.nix", "default.nix", "immich.nix", "nginx.nix", "secrets.nix", "storage-media-immich.nix",
    "storage-var-lib-immich.nix",
  ]);
  expect(await tunnelOnHost()).toEqual([
    "cloudflared-secrets.nix", "cloudflared.nix", "sops key cloudflared/credentials", "/run/secrets/cloudflared/credentials", UNIT,
  ]);
  expect(await target.ssh(extract)).toBe(CREDENTIALS);
  expect(await target.ssh("cat /run/secrets/cloudflared/credentials")).toBe(CREDENTIALS);
  expect(await target.ssh("stat -c '%U:%G %a' /run/secrets/cloudflared/credentials")).toBe("root:root 400\n");
  expect(await target.ssh(`systemctl is-active ${UNIT}`)).toBe("active\n");
  // The stand-in got the file through LoadCredential as the DynamicUser and found the tunnel's id in it.
  expect(await target.ssh(`journalctl -u ${UNIT} --no-pager -o cat | grep '^tunnel '`)).toBe(
    `tunnel ${TUNNEL_ID}: credentials read; NOT connected to Cloudflare (sandbox stand-in)\n`,
  );
  expect(await target.ssh(`systemctl show -p DynamicUser --value ${UNIT}`)).toBe("yes\n");
  // nginx answers the tunnel's public name (the origin the ingress rule names) with Immich's ping.
  expect(await target.ssh("curl -sS -H 'Host: photos.example.com' http://127.0.0.1:80/api/server/ping")).toBe('{"res":"pong"}');
  const report = JSON.parse((await target.pulumi(["stack", "output", "verification", "--json"])).stdout) as { check: string; target: string; status: string }[];
  // The tunnel's two checks, then (always last) the running system is the one the apply activated.
  expect(report.map((r) => `${r.check} ${r.status}`)).toEqual([...BASE_REPORT, "secret pass", "unit pass", "system pass"]);
  expect(report.slice(-3, -1).map((r) => r.target)).toEqual(["/run/secrets/cloudflared/credentials", UNIT]);
});

test("a second up with the tunnel on changes nothing", async () => {
  expectNoChanges(await record(target.up()));
});

test("poison: the credentials are nowhere in the state export, the engine output, the command lines, or the host's files but the secret", async () => {
  const exported = (await target.pulumi(["stack", "export"])).stdout;
  const revealed = (await target.pulumi(["stack", "export", "--show-secrets"])).stdout;
  // Positive control: the same search finds it where the state holds it encrypted.
  expect(revealed).toContain(MARK);
  expect(exported).not.toContain(MARK);
  expect(outputs.length).toBe(3);
  for (const output of outputs) expect(output).not.toContain(MARK);

  expect(sampler!.samples).toBeGreaterThan(100);
  expect(await sampler!.positiveControl(`${MARK}-control`)).toBe(true);
  expect([...sampler!.lines].filter((l) => l.includes(MARK) && !l.includes(`${MARK}-control`))).toEqual([]);

  const upper = readConnection(target.sandbox).stateDir;
  const search = () => execFileSync("bash", ["-c", `grep -rlF -- ${shellWord(MARK)} ${shellWord(upper)} || true`], { encoding: "utf8" }).trim();
  expect(search()).toBe("");
  await target.ssh(`echo ${MARK} > /root/planted`);
  expect(search()).toMatch(/\/root\/planted$/);
  await target.ssh("rm /root/planted");
  // In /run: the sops-nix secret, and systemd's copy for the unit (LoadCredential, nixpkgs' way to hand it to a DynamicUser).
  const inRun = (await target.ssh(`grep -rlF -- ${shellWord(MARK)} /run 2>/dev/null | sort || true`)).trim().split("\n");
  expect(inRun).toEqual([`/run/credentials/${UNIT}/credentials.json`, "/run/secrets/cloudflared/credentials"]);
});

test("turning the tunnel off removes it: module, sops key, secret and unit gone; then no changes", async () => {
  expectSuccess(await target.pulumi(["config", "set", "--path", "tunnel.enabled", "false"]));
  expectSuccess(await record(target.up()));
  expect(await tunnelOnHost()).toEqual([]);
  expect(await target.ssh(`systemctl is-active ${UNIT} || true`)).toBe("inactive\n");
  expect(await target.ssh("git -C /etc/nixos status --porcelain")).toBe("");
  expectNoChanges(await record(target.up()));
  for (const output of outputs) expect(output).not.toContain(MARK);
});
