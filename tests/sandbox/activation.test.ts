/**
 * Proves the stand-in's activation modes (test, boot), what it realizes besides mounts (users,
 * tmpfiles rules, sops secrets and templates), and fault injection followed by a rollback.
 */
import { sandboxDown, sandboxSsh, sandboxUp } from "../../sandbox";
import { uniqueName } from "./host";

const name = uniqueName("activation");

async function run(command: string, input?: string): Promise<string> {
  const result = await sandboxSsh(name, command, { input });
  if (result.code !== 0) throw new Error(`${command} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

const currentSystem = () => run("readlink /run/current-system");
const profile = () => run("readlink /nix/var/nix/profiles/system");
const generationLinks = () => run("cd /nix/var/nix/profiles && ls -d system-*-link | sort -V | tr '\\n' ' '");

const immichModule = `{ config, lib, ... }:
{
  services.immich.enable = true;
  sops.secrets."immich/db_password" = { owner = "immich"; };
  sops.templates."immich.env" = {
    content = "DB_PASSWORD=\${config.sops.placeholder."immich/db_password"}\\n";
    owner = "immich";
  };
  services.immich.secretsFile = config.sops.templates."immich.env".path;
  systemd.tmpfiles.rules = [ "d /srv/cache 0750 immich immich -" ];
}
`;

let generation1: string;

beforeAll(async () => {
  await sandboxUp(name);
  generation1 = await currentSystem();
});

afterAll(async () => {
  await sandboxDown(name);
});

test("a declared sops key missing from secrets.yaml fails the build (validateSopsFiles)", async () => {
  await run("cd /etc/nixos && cat > modules/services/immich.nix && git commit -qam 'immich: enable'", immichModule);
  const result = await sandboxSsh(name, "nixos-rebuild switch");
  expect(result.code).toBe(1);
  expect(result.stderr).toContain("error: secret key 'immich/db_password' of sops.secrets.\"immich/db_password\" was not found in /etc/nixos/secrets/secrets.yaml");
  expect(await generationLinks()).toBe("system-1-link ");
});

test("test activates without a generation; boot makes the boot default without activating", async () => {
  await run(
    "cd /etc/nixos && SOPS_DISABLE_VERSION_CHECK=true SOPS_AGE_KEY_FILE=/var/lib/sops-nix/key.txt sops set --value-stdin secrets/secrets.yaml '[\"immich\"][\"db_password\"]' && git commit -qam 'immich: db password'",
    "\"correct horse\"",
  );
  const tested = await run("nixos-rebuild test");
  expect(tested).toContain("activating the configuration... (test, no generation)\n");
  expect(await generationLinks()).toBe("system-1-link ");
  expect(await profile()).toBe("system-1-link\n");
  const testedSystem = await currentSystem();
  expect(testedSystem).not.toBe(generation1);

  // Users, tmpfiles and secrets as NixOS + sops-nix would leave them. /var/lib/immich: the tmpfiles rule makes
  // it 0700, then nixpkgs' immich-server (StateDirectory=immich, no StateDirectoryMode in this hand-written
  // module) sets it to systemd's default 0755 when it starts: what the program's generated module prevents.
  // (systemd sets up a state directory before the unit's process starts, so `systemctl start` has done it.)
  expect(await run("systemctl is-active immich-server.service")).toBe("active\n");
  expect(await run("id -un immich; stat -c '%a %U:%G' /var/lib/immich /srv/cache")).toBe("immich\n755 immich:immich\n750 immich:immich\n");
  expect(await run("cat /run/secrets/immich/db_password; echo; stat -c '%a %U' /run/secrets/immich/db_password")).toBe("correct horse\n400 immich\n");
  expect(await run("cat /run/secrets/rendered/immich.env; stat -c '%a %U' /run/secrets/rendered/immich.env")).toBe("DB_PASSWORD=correct horse\n400 immich\n");
  expect(await run("jq -r .services.immich.secretsFile /run/current-system/config.json")).toBe("/run/secrets/rendered/immich.env\n");
  expect(await run("grep -c 'correct horse' /run/current-system/config.json || true")).toBe("0\n");

  const booted = await run("nixos-rebuild boot");
  expect(booted).toContain("created generation 2:");
  expect(booted).not.toContain("activating");
  expect(await profile()).toBe("system-2-link\n");
  expect(await run("readlink /nix/var/nix/profiles/system-2-link")).toBe(testedSystem);
  await run("nixos-rebuild test --rollback");
  expect(await currentSystem()).toBe(generation1);
  expect(await run("test -e /run/secrets/immich/db_password || echo removed")).toBe("removed\n");
  // Back to the state before this test: generation 2 stays on disk, boot default back to 1.
  await run("nixos-rebuild boot --rollback");
  expect(await profile()).toBe("system-1-link\n");
});

test("fault injection fails the activation part-way; switch --rollback returns to the generation before it", async () => {
  await run("btrfs -q subvolume create /mnt/medias/@y");
  await run(
    "cd /etc/nixos && cat > modules/system/y.nix && sed -i 's|    ./modules/services/immich.nix|&\\n    ./modules/system/y.nix|' configuration.nix && git add -A && git commit -qm y",
    '{ fileSystems."/srv/y" = { device = "/dev/disk/by-label/MEDIAS"; fsType = "btrfs"; options = [ "subvol=@y" "noatime" ]; }; }\n',
  );
  await run("touch /etc/nixos-rebuild-standin/fail-next-activation");
  const failed = await sandboxSsh(name, "nixos-rebuild switch");
  expect(failed.code).toBe(2);
  expect(failed.stderr).toContain("error: activation failed (fault injected by /etc/nixos-rebuild-standin/fail-next-activation)");
  expect(await run("test -e /etc/nixos-rebuild-standin/fail-next-activation || echo consumed")).toBe("consumed\n");
  // Part-way: the new mount is there, the new generation is the boot default, but it is not active.
  expect(await run("findmnt -n -o TARGET /srv/y")).toBe("/srv/y\n");
  expect(await profile()).toBe("system-3-link\n");
  expect(await currentSystem()).toBe(generation1);

  const rolledBack = await sandboxSsh(name, "nixos-rebuild switch --rollback");
  expect(rolledBack.code).toBe(0);
  expect(rolledBack.stdout).toContain("switching profile to generation 2\n");
  expect(await profile()).toBe("system-2-link\n");
  expect(await currentSystem()).toBe(await run("readlink /nix/var/nix/profiles/system-2-link"));
  expect(await run("findmnt -n /srv/y || echo absent")).toBe("absent\n");

  // The next switch, unarmed, succeeds and reuses nothing stale.
  const retried = await run("nixos-rebuild switch");
  expect(retried).toContain("created generation 4:");
  expect(await run("findmnt -n -o TARGET /srv/y")).toBe("/srv/y\n");
  expect(await currentSystem()).toBe(await run("readlink /nix/var/nix/profiles/system-4-link"));
});

test("the generation's bin/switch-to-configuration activates it, as deploy tools expect", async () => {
  const result = await sandboxSsh(name, "/nix/var/nix/profiles/system-1-link/bin/switch-to-configuration test");
  expect(result.code).toBe(0);
  expect(await currentSystem()).toBe(generation1);
  expect(await run("findmnt -n /srv/y || echo absent")).toBe("absent\n");
});
