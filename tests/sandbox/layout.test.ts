/**
 * Proves the sandbox is shaped like SKYLAB: BTRFS MEDIAS found by label, the NixOS configuration
 * repo with sops secrets the host can decrypt, and the existing state a migration has to carry.
 */
import { sandboxDown, sandboxSsh, sandboxUp, SandboxConnection } from "../../sandbox";
import { uniqueName } from "./host";

const name = uniqueName("layout");
let connection: SandboxConnection;

async function run(command: string): Promise<string> {
  const result = await sandboxSsh(name, command);
  if (result.code !== 0) throw new Error(`${command} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  connection = await sandboxUp(name);
});

afterAll(async () => {
  await sandboxDown(name);
});

test("blkid shows a BTRFS filesystem labelled MEDIAS on this sandbox's loop device", async () => {
  expect(await run("readlink -f /dev/disk/by-label/MEDIAS")).toBe(`${connection.mediasDevice}\n`);
  expect(await run("blkid -o value -s TYPE /dev/disk/by-label/MEDIAS; blkid -o value -s LABEL /dev/disk/by-label/MEDIAS")).toBe("btrfs\nMEDIAS\n");
});

test("findmnt shows MEDIAS' top level at /mnt/medias without compression, and @pictures", async () => {
  const top = (await run("findmnt -n -o SOURCE,FSTYPE,LABEL,OPTIONS /mnt/medias")).trim().split(/\s+/);
  expect(top.slice(0, 3)).toEqual([connection.mediasDevice, "btrfs", "MEDIAS"]);
  expect(top[3].split(",")).toEqual(expect.arrayContaining(["subvolid=5", "subvol=/"]));
  expect(top[3]).not.toContain("compress");
  const pictures = (await run("findmnt -n -o SOURCE,FSTYPE,OPTIONS /home/zipang/Pictures")).trim().split(/\s+/);
  expect(pictures.slice(0, 2)).toEqual([`${connection.mediasDevice}[/@pictures]`, "btrfs"]);
  expect(pictures[2].split(",")).toEqual(expect.arrayContaining(["noatime", "subvol=/@pictures"]));
  expect(await run("btrfs subvolume list /mnt/medias | awk '{print $NF}'")).toBe("@pictures\n");
});

test("the NixOS layout exists and the configuration is a clean git repo with history", async () => {
  expect(await run("test -f /etc/NIXOS && echo marker")).toBe("marker\n");
  expect(await run("cd /etc/nixos && git ls-files")).toBe(
    [".sops.yaml", "configuration.nix", "modules/services/immich.nix", "modules/services/nginx.nix",
      "modules/system/storage.nix", "secrets/secrets.yaml"].join("\n") + "\n",
  );
  expect(await run("cd /etc/nixos && git status --porcelain && git rev-list --count HEAD")).toBe("2\n");
  expect(await run("grep -c 'modules/system/storage.nix' /etc/nixos/configuration.nix")).toBe("1\n");
  expect(await run("nix-instantiate --parse /etc/nixos/modules/system/storage.nix > /dev/null && echo parses")).toBe("parses\n");
});

test("sops on the host decrypts secrets/secrets.yaml with the host age key", async () => {
  expect(await run("stat -c '%a %U' /var/lib/sops-nix/key.txt")).toBe("600 root\n");
  expect(await run("grep -c '^  - &skylab age1' /etc/nixos/.sops.yaml")).toBe("1\n");
  const encrypted = await run("cat /etc/nixos/secrets/secrets.yaml");
  expect(encrypted).toMatch(/^wifi:\n {4}psk: ENC\[AES256_GCM,data:/);
  const psk = await run(
    "SOPS_DISABLE_VERSION_CHECK=true SOPS_AGE_KEY_FILE=/var/lib/sops-nix/key.txt sops decrypt --extract '[\"wifi\"][\"psk\"]' /etc/nixos/secrets/secrets.yaml",
  );
  expect(psk).toMatch(/^[A-Za-z0-9+/]{24}$/);
  expect(encrypted).not.toContain(psk);
  // sops-nix realized the declared secret from the same file at generation 1.
  expect(await run("cat /run/secrets/wifi/psk; echo; stat -c '%a %U' /run/secrets/wifi/psk")).toBe(`${psk}\n400 root\n`);
});

test("/var/lib/immich holds the awkward cases a migration must preserve", async () => {
  const base = "/var/lib/immich";
  expect(Number(await run(`find ${base} -type f | wc -l`))).toBeGreaterThanOrEqual(250);
  expect(await run(`findmnt -n -o FSTYPE --target ${base}`)).toBe("overlay\n");
  expect(await run(`cd ${base}/upload && ls 'My Album 2024'`)).toBe(`empty file.txt\nit's a "quoted" name.jpg\nphoto with spaces.jpg\n`);
  expect(await run(`stat -c %s '${base}/upload/My Album 2024/empty file.txt'`)).toBe("0\n");
  expect(await run(`readlink ${base}/upload/latest.jpg && test -f ${base}/upload/latest.jpg && echo resolves`)).toMatch(/^\.\.\/library\/.+\/IMG_0101\.jpg\nresolves\n$/);
  expect(await run(`cd ${base}/thumbs/*/ && stat -c '%h %i' hardlink-original.webp hardlink-twin.webp | sort -u | wc -l; stat -c %h hardlink-original.webp`)).toBe("1\n2\n");
  expect(await run(`getfattr --only-values -n user.skylab '${base}/upload/My Album 2024/photo with spaces.jpg'`)).toBe("test");
  expect(await run(`find ${base} -uid 1500 -gid 1500 | wc -l`)).not.toBe("0\n");
  expect(Number(await run(`find ${base} -type f -size +200k | wc -l`))).toBeGreaterThanOrEqual(5);
});

test("Digicam holds five valid PNG images owned by zipang", async () => {
  const listing = await run("cd /home/zipang/Pictures/Digicam && for f in *; do printf '%s %s ' \"$f\" \"$(stat -c %U \"$f\")\"; head -c 8 \"$f\" | od -An -tx1 | tr -d ' \\n'; echo; done");
  expect(listing).toBe(
    [1, 2, 3, 4, 5].map((i) => `IMG_000${i}.png zipang 89504e470d0a1a0a`).join("\n") + "\n",
  );
  const check = await run(
    "python3 -c 'import sys,zlib,struct\nfor p in sys.argv[1:]:\n d=open(p,\"rb\").read()\n w,h=struct.unpack(\">II\",d[16:24])\n i=d.index(b\"IDAT\")\n n=struct.unpack(\">I\",d[i-4:i])[0]\n raw=zlib.decompress(d[i+4:i+4+n])\n print(len(raw)==h*(1+3*w))' /home/zipang/Pictures/Digicam/*.png",
  );
  expect(check).toBe("True\nTrue\nTrue\nTrue\nTrue\n");
});

test("the tools the program uses are on PATH inside, for root and via sudo", async () => {
  const tools = "sops age age-keygen git btrfs nix-instantiate rsync jq python3 nixos-rebuild";
  expect(await run(`for t in ${tools}; do command -v $t >/dev/null && echo ok; done | wc -l`)).toBe("10\n");
  const viaSudo = await sandboxSsh(name, "sudo -n sh -c 'command -v nixos-rebuild; command -v sops'", { user: "skyadmin" });
  expect(viaSudo.stdout).toBe("/usr/local/bin/nixos-rebuild\n/usr/local/bin/sops\n");
});
