/**
 * The owner's starting state, tried as a new user would: SKYLAB as the plan describes it, Phases 2 and 3 done by
 * hand (the vhost immich.skylab.local in modules/services/nginx.nix, modules/services/immich.nix enabling Immich
 * with its user and group, Immich running on /var/lib/immich), and Phase 1 half done (the subvolume @immich made
 * by hand, the plan's fileSystems entry committed in modules/system/storage.nix, the data not moved). Preview
 * lists what it adopts; a different value is refused before anything is written, naming the file, the option,
 * both values and the fix; up converges without touching the owner's files; destroy puts the data back.
 */
import { expectNoChanges, expectSuccess, hostState, manifest, Target, waitFor } from "./helpers";

const OWNER_FILES = ["modules/services/immich.nix", "modules/services/nginx.nix", "modules/system/storage.nix"];

async function ownerFiles(target: Target): Promise<string> {
  return target.ssh(`cd /etc/nixos && sha256sum ${OWNER_FILES.join(" ")}`);
}

/**
 * Immich's unit is active and its server answers the ping (waited for: it answers a few seconds after a start),
 * at `host`: the program's 127.0.0.1, or nixpkgs' default "localhost" where only the owner's module is left.
 */
async function immichAnswers(target: Target, host = "127.0.0.1"): Promise<string> {
  expect((await target.ssh("systemctl is-active immich-server.service")).trim()).toBe("active");
  const ping = () => target.sshResult(`curl -sf http://${host}:2283/api/server/ping`).then((r) => r.stdout);
  return waitFor("Immich's ping", ping, (out) => out.includes("pong"));
}

describe("Phases 2 and 3 done by hand", () => {
  const target = new Target("own3");
  let original: string;
  let files: string;

  beforeAll(async () => {
    await target.create({ sandbox: { owner: "phase3" } });
    original = await manifest(target, "/var/lib/immich");
    files = await ownerFiles(target);
  });

  afterAll(async () => {
    await target.destroy();
  });

  test("preview lists the owner's definitions it adopts and changes nothing on the host", async () => {
    const before = await hostState(target);
    const preview = await target.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).toContain("of the owner's own definitions (identical values; the owner's files are not changed");
    expect(preview.output).toContain("modules/services/immich.nix: services.immich.enable = true");
    expect(preview.output).toContain('modules/services/immich.nix: services.immich.user = "immich"');
    expect(preview.output).toContain(
      'modules/services/nginx.nix: services.nginx.virtualHosts."immich.skylab.local".locations."/".proxyPass = "http://127.0.0.1:2283"',
    );
    expect(await hostState(target)).toEqual(before);
  }, 180_000);

  test("up converges without touching the owner's files; the data is unchanged; the next preview shows no changes", async () => {
    expectSuccess(await target.up());
    expect(await ownerFiles(target)).toBe(files);
    expect((await target.ssh("findmnt -rn -o FSROOT /var/lib/immich")).trim()).toBe("/@immich");
    expect(await manifest(target, "/var/lib/immich")).toBe(original);
    // Adopted definitions are the program's defaults: the owner's stay the ones in force, nothing twice.
    const generated = await target.ssh("cat /etc/nixos/modules/generated/skylab-immich/immich.nix");
    expect(generated).toContain("enable = lib.mkDefault true;");
    expect(generated).toContain("# Adopted: the host's own configuration defines these with the same value");
    const nginx = await target.ssh("cat /etc/nginx/nixos-nginx.conf");
    expect(nginx.match(/proxy_pass http:\/\/127\.0\.0\.1:2283;/g)).toHaveLength(1);
    expect(await immichAnswers(target)).toContain("pong");
    expectNoChanges(await target.preview());
  }, 300_000);

  test("an owner's services.immich.port = 3001 beside the program's 2283: refused before any write, naming both and the fix", async () => {
    await target.ssh(
      "cd /etc/nixos && sed -i 's/    user = \"immich\";/    port = 3001;\\n    user = \"immich\";/' modules/services/immich.nix && " +
        "git -c user.name=zipang -c user.email=z@skylab commit -qam 'immich: port 3001'",
    );
    const before = await hostState(target);
    for (const run of [() => target.preview(), () => target.up()]) {
      const refused = await run();
      expect(refused.code).not.toBe(0);
      expect(refused.output).toContain("the host's own configuration defines what skylab-immich defines, differently; nothing was changed");
      expect(refused.output).toContain(
        "services.immich.port: modules/services/immich.nix sets 3001, skylab-immich sets 2283. " +
          'Fix: set the stack key `immich.port` to 3001 (pulumi config set --path immich.port "3001"), ' +
          "or delete the definition of services.immich.port from modules/services/immich.nix.",
      );
      expect(await hostState(target)).toEqual(before);
    }
    // The fix the message gives (the line deleted): up converges again.
    await target.ssh("cd /etc/nixos && git -c user.name=zipang -c user.email=z@skylab revert --no-edit HEAD >/dev/null");
    expectSuccess(await target.up());
    expectNoChanges(await target.preview());
  }, 300_000);

  test("destroy puts the data back to /var/lib/immich, with the owner's Immich running on it", async () => {
    expectSuccess(await target.pulumi(["destroy", "--yes"]));
    expect((await target.sshResult("findmnt -rn /var/lib/immich")).stdout).toBe("");
    expect(await target.ssh("ls /etc/nixos/modules/generated/skylab-immich")).toBe("default.nix\n");
    expect(await manifest(target, "/var/lib/immich")).toBe(original);
    expect(await immichAnswers(target, "localhost")).toContain("pong");
  }, 300_000);
});

describe("Phase 1 half done: the subvolume made by hand, the plan's fileSystems entry committed, the data not moved", () => {
  const target = new Target("own1");
  let original: string;
  let files: string;
  let uuid: string;

  beforeAll(async () => {
    await target.create({ sandbox: { owner: "phase1" } });
    original = await manifest(target, "/var/lib/immich");
    files = await ownerFiles(target);
    uuid = await target.ssh("btrfs subvolume show /mnt/medias/@immich | sed -n 's/^[[:space:]]*UUID:[[:space:]]*//p'");
  });

  afterAll(async () => {
    await target.destroy();
  });

  test("the hand-made subvolume holding a file the program did not put there: up refuses to copy over it, nothing changes", async () => {
    await target.ssh("echo mine > '/mnt/medias/@immich/a file of the owner'");
    const before = await hostState(target);
    const refused = await target.up();
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("subvolume @immich on MEDIAS already holds files that skylab-immich did not copy there (made by hand?); nothing was changed");
    expect(await hostState(target)).toEqual(before);
    expect(await target.ssh("cat '/mnt/medias/@immich/a file of the owner'")).toBe("mine\n");
    expect(await manifest(target, "/var/lib/immich")).toBe(original);
    // The owner moves it out, as the message says; the next case starts from there.
    await target.ssh("rm '/mnt/medias/@immich/a file of the owner'");
  }, 300_000);

  test("preview adopts the fileSystems entry and the subvolume; up moves the data onto it once; nothing is defined twice", async () => {
    const preview = await target.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).toContain('modules/system/storage.nix: fileSystems."/var/lib/immich".options = ["subvol=@immich","compress=zstd","noatime"]');
    expect(preview.output).toContain("subvolume @immich already exists on MEDIAS: it is used as it is, not made again");
    expectSuccess(await target.up());
    expect(await ownerFiles(target)).toBe(files);
    expect(await target.ssh("btrfs subvolume show /mnt/medias/@immich | sed -n 's/^[[:space:]]*UUID:[[:space:]]*//p'")).toBe(uuid);
    expect(await manifest(target, "/var/lib/immich")).toBe(original);
    expect((await target.ssh("findmnt -rn -o FSROOT /var/lib/immich")).trim()).toBe("/@immich");
    // NixOS' fstab (the real filesystems module): the entry once, its options once.
    expect(await target.ssh("grep ' /var/lib/immich ' /etc/fstab")).toBe("/dev/disk/by-label/MEDIAS /var/lib/immich btrfs subvol=@immich,compress=zstd,noatime 0 0\n");
    expect(await immichAnswers(target)).toContain("pong");
    expectNoChanges(await target.preview());
  }, 300_000);

  test("destroy: the owner's own fileSystems entry keeps the data mounted at /var/lib/immich, Immich running on it", async () => {
    expectSuccess(await target.pulumi(["destroy", "--yes"]));
    expect((await target.ssh("findmnt -rn -o FSROOT /var/lib/immich")).trim()).toBe("/@immich");
    expect(await manifest(target, "/var/lib/immich")).toBe(original);
    expect(await target.ssh("test -d /var/lib/immich.pre-skylab-immich && echo kept")).toBe("kept\n");
    expect(await immichAnswers(target, "localhost")).toContain("pong");
  }, 300_000);
});
