/**
 * Config that must fail before anything touches the host, and paths with spaces, quotes and `$` that
 * must work end to end (the bind mount of a Pictures folder with an awkward name).
 */
import { readFileSync } from "fs";
import { readConnection } from "../../sandbox";
import { expectNoChanges, expectSuccess, hostState, shellWord, Target } from "./helpers";

const target = new Target("conf1");
const AWKWARD_SOURCE = `/home/zipang/Pictures/Digi cam "2024" $HOME 'é'`;
const AWKWARD_TARGET = `/media/immich "library" $x`;

beforeAll(async () => {
  await target.create();
});

afterAll(async () => {
  await target.destroy();
});

const badConfigs: { name: string; config: Record<string, unknown>; message: string }[] = [
  {
    name: "a relative path",
    config: { storage: { mountPoint: "var/lib/immich" } },
    message: '`storage.mountPoint` must be an absolute path (got "var/lib/immich"): write it from the root, e.g. "/var/lib/immich"',
  },
  {
    name: "an unknown compression algorithm",
    config: { storage: { compression: "brotli" } },
    message: '`storage.compression` must be one of zstd, zlib, lzo, optionally with a level like "zstd:3" (got "brotli")',
  },
  {
    name: "a missing host key",
    config: { host: { hostKey: undefined } },
    message: "`host.hostKey` is required: pin SKYLAB's SSH host key",
  },
  {
    name: "a label with a space",
    config: { storage: { mediasLabel: "ME DIAS" } },
    message: '`storage.mediasLabel` must match /^[A-Za-z0-9_-]{1,32}$/ (got "ME DIAS"): use the label shown by `btrfs filesystem show`',
  },
  {
    name: "a Pictures folder holding Nix's ${…}",
    config: { pictures: { source: "/home/zipang/Pictures/${builtins.readFile /etc/shadow}" } },
    message: '`pictures.source` must not contain "${" (got "/home/zipang/Pictures/${builtins.readFile /etc/shadow}")',
  },
  {
    name: "a mount point with a backslash",
    config: { pictures: { mountPoint: "/media/im\\mich" } },
    message: '`pictures.mountPoint` must not contain a backslash (got "/media/im\\\\mich")',
  },
];

describe.each(badConfigs)("$name", ({ config, message }) => {
  test("fails the preview naming the key, before any remote command runs", async () => {
    await target.reconfigure({ config });
    const before = target.acceptedConnections();
    const preview = await target.preview();
    expect(preview.code).not.toBe(0);
    expect(preview.output).toContain("invalid stack configuration");
    expect(preview.output).toContain(message);
    expect(target.acceptedConnections() - before).toBe(0);
  });
});

test("a Pictures folder and a mount point with spaces, quotes, $ and unicode work end to end", async () => {
  await target.ssh(`mkdir -p ${shellWord(AWKWARD_SOURCE)} && cp /home/zipang/Pictures/Digicam/* ${shellWord(AWKWARD_SOURCE)}/ && chmod 0755 ${shellWord(AWKWARD_SOURCE)}`);
  await target.reconfigure({ config: { pictures: { source: AWKWARD_SOURCE, mountPoint: AWKWARD_TARGET } } });
  expectSuccess(await target.up());
  // Raw findmnt output escapes what would split fields (\x20); decode it back.
  const [fsroot, options] = (await target.ssh(`findmnt -rn -o FSROOT,OPTIONS --mountpoint ${shellWord(AWKWARD_TARGET)}`))
    .trim()
    .split(" ")
    .map(unescapeFindmnt);
  expect(fsroot).toBe(`/@pictures/Digi cam "2024" $HOME 'é'`);
  expect(options.split(",")).toContain("ro");
  expect(await target.ssh(`ls ${shellWord(AWKWARD_TARGET)} | wc -l`)).toBe("5\n");
  const module = await target.ssh("cat /etc/nixos/modules/generated/skylab-immich/storage-media-immich_20_22library_22_20_24x.nix");
  expect(module).toContain(`"/media/immich \\"library\\" $x" = {`);
  expect(module).toContain(`device = "/home/zipang/Pictures/Digi cam \\"2024\\" $HOME 'é'";`);
  expectNoChanges(await target.up());
});

test("a Pictures folder that is not on the host: preview refuses naming the key, before anything changes", async () => {
  await target.reconfigure({ config: { pictures: { source: "/home/zipang/Pictures/Digicma", mountPoint: AWKWARD_TARGET } } });
  const before = await hostState(target);
  const preview = await target.preview();
  expect(preview.code).not.toBe(0);
  expect(preview.output).toContain("SKYLAB is not ready; nothing was changed");
  expect(preview.output).toContain('`pictures.source` is "/home/zipang/Pictures/Digicma", which is not a folder on');
  expect(await hostState(target)).toEqual(before);
});

test("an admin user with passwordless sudo (become: sudo) converges the same host", async () => {
  await target.reconfigure({
    viaSudo: true,
    config: { pictures: { source: AWKWARD_SOURCE, mountPoint: AWKWARD_TARGET }, nginx: { clientMaxBodySize: "60000M" } },
  });
  const logBefore = readFileSync(readConnection(target.sandbox).sshdLog, "utf8").length;
  const up = await target.up();
  // What sshd logged during the up (the test's own look at the host below logs in as root).
  const log = readFileSync(readConnection(target.sandbox).sshdLog, "utf8").slice(logBefore);
  expectSuccess(up);
  expect(up.output).toMatch(/immich-vhost-module-file updated/);
  expect(await target.ssh("grep -c 'client_max_body_size 60000M' /etc/nixos/modules/generated/skylab-immich/nginx.nix")).toBe("1\n");
  // The scripts ran as root through sudo: the file the apply committed belongs to root.
  expect(await target.ssh("stat -c %U /etc/nixos/modules/generated/skylab-immich/nginx.nix")).toBe("root\n");
  // ...and every connection of this up logged in as the admin user, not as root: the look, the module
  // write, the apply and the confirmation ran as its sessions.
  expect((log.match(/Accepted publickey for skyadmin /g) ?? []).length).toBeGreaterThanOrEqual(1);
  expect(log).not.toMatch(/Accepted publickey for root /);
  expect((log.match(/Starting session: command for skyadmin /g) ?? []).length).toBeGreaterThanOrEqual(4);
  expectNoChanges(await target.up());
});

/** findmnt -r writes bytes it must not print as \\xHH; everything else is UTF-8 text. */
function unescapeFindmnt(field: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < field.length; ) {
    if (field.startsWith("\\x", i)) {
      bytes.push(parseInt(field.slice(i + 2, i + 4), 16));
      i += 4;
    } else {
      const char = String.fromCodePoint(field.codePointAt(i) ?? 0);
      bytes.push(...Buffer.from(char, "utf8"));
      i += char.length;
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

test("Immich's data mount point with a space and a quote works end to end: fstab, mount unit, tmpfiles, Immich", async () => {
  const awkward = new Target("conf2");
  const mountPoint = "/var/lib/it's immich";
  try {
    await awkward.create({ config: { storage: { mountPoint } } });
    expectSuccess(await awkward.up());
    const report = JSON.parse((await awkward.pulumi(["stack", "output", "verification", "--json"])).stdout) as { check: string; target: string; status: string }[];
    expect(report.map((r) => `${r.check} ${r.status}`)).toEqual([
      "mount pass", "owner pass", "mount pass", "readable-by pass", "secret pass",
      "unit pass", "unit pass", "unit pass", "unit pass", "http pass", "unit pass", "http pass",
      // Last: the running system is the one the apply activated from its own commit.
      "system pass",
    ]);
    expect(report[0].target).toBe(mountPoint);
    expect((await awkward.ssh(`findmnt -rn -o FSROOT --mountpoint ${shellWord(mountPoint)}`)).trim()).toBe("/@immich");
    expect(await awkward.ssh(`stat -c '%U:%G %a' ${shellWord(mountPoint)}`)).toBe("immich:immich 700\n");
    // fstab escapes the space (\040), as NixOS writes it.
    expect(await awkward.ssh(`grep -cF "/var/lib/it's\\\\040immich " /etc/fstab`)).toBe("1\n");
    // Immich (the stand-in, as the immich user) wrote its markers there.
    expect(await awkward.ssh(`test -f ${shellWord(`${mountPoint}/upload/.immich`)} && echo marker`)).toBe("marker\n");
    expectNoChanges(await awkward.up());
  } finally {
    await awkward.destroy();
  }
}, 300_000);
