/**
 * The stand-in's `systemd.services` and PostgreSQL: a declared service becomes a real unit as NixOS writes
 * it (script with `set -e`, path, environment, serviceConfig, dependencies, requiredBy on the other unit),
 * keys it does not write are listed as not realized, and services.immich's database runs as nixpkgs' module
 * runs it (initdb, its pg_hba rules, the role and database from postgresql-setup).
 */
import { sandboxDown, sandboxSsh, sandboxUp } from "../../sandbox";
import { uniqueName } from "./host";

const name = uniqueName("units");

async function run(command: string): Promise<string> {
  const result = await sandboxSsh(name, command);
  if (result.code !== 0) throw new Error(`${command} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

async function addModule(file: string, text: string): Promise<void> {
  await sandboxSsh(name, `cd /etc/nixos && cat > ${file} && sed -i 's|    ./modules/services/immich.nix|&\\n    ./${file}|' configuration.nix && git add -A && git commit -qm 'add ${file}'`, { input: text });
}

const servicesModule = `{ config, pkgs, ... }:
{
  services.immich.enable = true;
  systemd.services.hello = {
    description = "says hello";
    after = [ "postgresql.service" ];
    requiredBy = [ "immich-server.service" ];
    before = [ "immich-server.service" ];
    path = [ pkgs.postgresql ];
    environment.GREETING = "hello from \\"hello\\"";
    serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
    script = ''
      echo "$GREETING" > /run/hello.out
      command -v psql >> /run/hello.out
      false
      echo "not reached" >> /run/hello.out
    '';
    startAt = "daily";
  };
}
`;

beforeAll(async () => {
  await sandboxUp(name);
  await addModule("hello.nix", servicesModule);
});

afterAll(async () => {
  await sandboxDown(name);
});

test("a declared service's script runs with set -e, its path and environment; it stops at the first failure", async () => {
  const result = await sandboxSsh(name, "nixos-rebuild switch");
  // The script fails (`false`): hello.service failed, so immich-server (which requires it) did not start.
  expect(result.code).toBe(2);
  expect(await run("cat /run/hello.out")).toBe('hello from "hello"\n/usr/lib/postgresql/15/bin/psql\n');
  expect(await run("systemctl show -p Requires --value immich-server.service")).toContain("hello.service");
  expect(await run("systemctl show -p ActiveState --value hello.service")).toBe("failed\n");
});

test("with the script fixed, the service and immich-server start; PostgreSQL runs as nixpkgs' module runs it", async () => {
  await run("cd /etc/nixos && sed -i '/^      false$/d' hello.nix && git commit -qam 'fix hello'");
  expect(await run("nixos-rebuild switch")).toContain("declared, not realized: systemd.services.hello.startAt\n");
  expect(await run("cat /run/hello.out")).toBe('hello from "hello"\n/usr/lib/postgresql/15/bin/psql\nnot reached\n');
  expect(await run("systemctl is-active postgresql.service postgresql-setup.service hello.service immich-server.service"))
    .toBe("active\nactive\nactive\nactive\n");
  expect(await run("test -f /var/lib/postgresql/15/PG_VERSION && stat -c '%U %a' /var/lib/postgresql/15")).toBe("postgres 750\n");
  // nixpkgs' default rules: peer over the socket (Immich's Unix user is its role), md5 over 127.0.0.1.
  expect(await run("runuser -u immich -- psql --no-psqlrc -h /run/postgresql -d immich -tAc 'SELECT current_user'")).toBe("immich\n");
  expect(await run("runuser -u postgres -- psql --no-psqlrc -tAc \"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'immich'\""))
    .toBe("immich\n");
  const overTcp = await sandboxSsh(name, "PGPASSWORD=none psql --no-psqlrc -h 127.0.0.1 -U immich -d immich -tAc 'SELECT 1'");
  expect(overTcp.code).toBe(2);
  expect(overTcp.stderr).toContain('password authentication failed for user "immich"');
  // The Immich stand-in logged in by the socket (DB_URL, as nixpkgs' module sets it).
  expect(await run("journalctl --no-pager -o cat -u immich-server.service")).toContain("connected to PostgreSQL (immich on /run/postgresql, role immich)");
});

test("units from nixpkgs' own rendering: a declared service's file is NixOS', only ExecStart is the script's file; immich-public-proxy's is nixpkgs' with the stand-in program", async () => {
  const hello = await run("cat /etc/systemd/system/hello.service");
  expect(hello.split("\n")[0]).toBe("# nixpkgs' unit file for this configuration (sandbox: hello's script as a file of the sandbox; program and PATH replaced)");
  expect(hello).toContain('\nExecStart="/usr/local/lib/nixos-standin-units/hello-start"\n');
  expect(hello).toContain('\nEnvironment="GREETING=hello from \\"hello\\""\n');
  await addModule("proxy.nix", '{ ... }:\n{\n  services.immich-public-proxy = { enable = true; immichUrl = "http://127.0.0.1:2283"; port = 3000; };\n}\n');
  await run("nixos-rebuild switch");
  const proxy = await run("cat /etc/systemd/system/immich-public-proxy.service");
  // nixpkgs' immich-public-proxy.nix: a DynamicUser named ipp, its port and Immich's URL in the environment.
  for (const line of ["DynamicUser=true", "User=ipp", 'Environment="IPP_PORT=3000"', 'Environment="IMMICH_URL=http://127.0.0.1:2283"', "ProtectHome=true"]) {
    expect(proxy).toContain(`\n${line}\n`);
  }
  expect(proxy).toMatch(/\nExecStart="\/usr\/bin\/node" "\/usr\/local\/lib\/immich-standin\/server.js" "--role" "public-proxy"/);
  expect(await run("systemctl is-active immich-public-proxy.service")).toBe("active\n");
  expect(await run("systemctl show -p User --value immich-public-proxy.service")).toBe("ipp\n");
});
