import { ConfigError, parseStackConfig, StackConfig } from "../../lib/config";

// One compliant baseline; each case changes one field and states the exact problem list it must produce.

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8Jt0b6pQ2ZbXv2zU6b1kV3mZ0nS8rQ5fW1yH7cE9d";
const HOST_KEY_FIX =
  "pin SKYLAB's SSH host key: run `cat /etc/ssh/ssh_host_ed25519_key.pub` on SKYLAB (or `ssh-keyscan -t ed25519 <address>` " +
  "on a network you trust) and `npm run pulumi -- config set --path host.hostKey 'ssh-ed25519 AAAA...'`";

function baseline(): Record<string, any> {
  return { host: { address: "192.168.1.20", hostKey: HOST_KEY } };
}

/** The baseline with one path set (or removed, for `undefined`). */
function withField(path: string, value: unknown): Record<string, any> {
  const copy = baseline();
  const keys = path.split(".");
  let node = copy;
  for (const key of keys.slice(0, -1)) node = node[key] ??= {};
  const last = keys[keys.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

function problemsOf(raw: Record<string, unknown>): string[] {
  try {
    parseStackConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("parseStackConfig accepted the configuration");
}

describe("parseStackConfig: the baseline", () => {
  test("is accepted and every default is filled in", () => {
    const expected: StackConfig = {
      host: { address: "192.168.1.20", port: 22, user: "root", become: "none", hostKey: HOST_KEY },
      storage: {
        mediasLabel: "MEDIAS",
        subvolume: "@immich",
        mountPoint: "/var/lib/immich",
        compression: "zstd",
        mountOptions: ["noatime"],
        allowDataLoss: false,
        snapshots: { keep: 5 },
      },
      pictures: { source: "/home/zipang/Pictures/Digicam", mountPoint: "/media/immich" },
      nixos: {
        configRepo: "/etc/nixos", generatedDir: "modules/generated/skylab-immich", mode: "switch", confirmTimeoutSeconds: 120,
        verifyTimeoutSeconds: 180, activationTimeoutSeconds: 900, lockWaitSeconds: 300,
      },
      immich: {
        host: "127.0.0.1",
        port: 2283,
        user: "immich",
        group: "immich",
        machineLearning: true,
        databaseMode: "tcp",
        publicProxy: { enabled: false, port: 3000 },
      },
      nginx: { hostName: "immich.skylab.local", clientMaxBodySize: "50000M" },
      secrets: { sopsFile: "secrets/secrets.yaml", ageKeyFile: "/var/lib/sops-nix/key.txt", dbPasswordKey: "immich/db_password" },
      tunnel: { enabled: false, credentialsKey: "cloudflared/credentials" },
      hostLook: true,
    };
    // toStrictEqual: no extra keys (keepOriginalAt stays absent), no undefined-valued keys.
    expect(parseStackConfig(baseline())).toStrictEqual(expected);
  });

  test("defaults of one section do not leak into another given partially", () => {
    const parsed = parseStackConfig(withField("immich.publicProxy", { enabled: true }));
    expect(parsed.immich.publicProxy).toStrictEqual({ enabled: true, port: 3000 });
  });
});

describe("parseStackConfig: rejected values, with the exact problems", () => {
  test.each<[string, string, unknown, string[]]>([
    [
      "relative path",
      "storage.mountPoint", "var/lib/immich",
      ['`storage.mountPoint` must be an absolute path (got "var/lib/immich"): write it from the root, e.g. "/var/lib/immich"'],
    ],
    [
      "relative path starting with ./",
      "pictures.source", "./Pictures",
      ['`pictures.source` must be an absolute path (got "./Pictures"): write it from the root, e.g. "/Pictures"'],
    ],
    [
      "non-normalized path",
      "storage.mountPoint", "/var/lib//immich/",
      ['`storage.mountPoint` must be a normalized path (got "/var/lib//immich/"): use "/var/lib/immich"'],
    ],
    [
      "path with ..",
      "pictures.mountPoint", "/media/../immich",
      ['`pictures.mountPoint` must be a normalized path (got "/media/../immich"): use "/immich"'],
    ],
    [
      "control character in a path",
      "storage.mountPoint", "/var/lib/im\nmich",
      ['`storage.mountPoint` must not contain control characters (got "/var/lib/im\\nmich"): fstab and systemd cannot express them'],
    ],
    [
      "backslash in a path",
      "pictures.source", "/home/zipang/Pictures/Digi\\cam",
      ['`pictures.source` must not contain a backslash (got "/home/zipang/Pictures/Digi\\\\cam"): NixOS writes it into /etc/fstab ' +
        "as it is, where `\\` starts an escape, so the mount would name another path; rename the folder"],
    ],
    [
      "Nix's ${ in a path",
      "pictures.mountPoint", "/media/${builtins.readFile /etc/shadow}",
      ['`pictures.mountPoint` must not contain "${" (got "/media/${builtins.readFile /etc/shadow}"): a mount unit with it in What= or ' +
        "Where= does not mount where it says (systemd 252 bound the parent folders instead); rename the folder"],
    ],
    [
      "white space at the end of a path",
      "pictures.mountPoint", "/media/immich ",
      ['`pictures.mountPoint` must not end with white space (got "/media/immich "): systemd drops white space at the end of a ' +
        "unit's value (the mount unit's What= and Where=), so the mount would name another path; rename the folder"],
    ],
    [
      "unknown compression",
      "storage.compression", "brotli",
      ['`storage.compression` must be one of zstd, zlib, lzo, optionally with a level like "zstd:3" (got "brotli")'],
    ],
    [
      "zstd level out of range",
      "storage.compression", "zstd:22",
      ['`storage.compression` level must be an integer from 1 to 15 for zstd (got "zstd:22")'],
    ],
    [
      "zlib level out of range",
      "storage.compression", "zlib:0",
      ['`storage.compression` level must be an integer from 1 to 9 for zlib (got "zlib:0")'],
    ],
    [
      "lzo with a level",
      "storage.compression", "lzo:1",
      ['`storage.compression` lzo takes no level (got "lzo:1")'],
    ],
    [
      "compression with two levels",
      "storage.compression", "zstd:3:1",
      ['`storage.compression` must be one of zstd, zlib, lzo, optionally with a level like "zstd:3" (got "zstd:3:1")'],
    ],
    [
      "label with a space",
      "storage.mediasLabel", "ME DIAS",
      // A config error names the field, says what was given and the fix.
      [
        '`storage.mediasLabel` must match /^[A-Za-z0-9_-]{1,32}$/ (got "ME DIAS"): use the label shown by ' +
          "`btrfs filesystem show` (rename with `btrfs filesystem label`)",
      ],
    ],
    [
      "subvolume with a slash",
      "storage.subvolume", "@immich/data",
      ['`storage.subvolume` must be one subvolume name of letters, digits and @._+- (no slashes), like "@immich" (got "@immich/data")'],
    ],
    [
      "mount option with a comma",
      "storage.mountOptions", ["noatime,ssd"],
      ['`storage.mountOptions.0` must be a single mount option such as "noatime" (got "noatime,ssd"): list each option as its own item'],
    ],
    [
      "compress= in mountOptions",
      "storage.mountOptions", ["noatime", "compress=zstd:3"],
      ['`storage.mountOptions.1` "compress=zstd:3" is set by `storage.compression`/`storage.subvolume`, not here: remove it from the list'],
    ],
    [
      "subvolid= in mountOptions",
      "storage.mountOptions", ["subvolid=5"],
      ['`storage.mountOptions.0` "subvolid=5" is set by `storage.compression`/`storage.subvolume`, not here: remove it from the list'],
    ],
    [
      // Subvolume names usually start with "@": the message must still point at `storage.subvolume`.
      "subvol=@name in mountOptions",
      "storage.mountOptions", ["subvol=@other"],
      ['`storage.mountOptions.0` "subvol=@other" is set by `storage.compression`/`storage.subvolume`, not here: remove it from the list'],
    ],
    [
      "placeholder address",
      "host.address", "REPLACE-ME",
      ['`host.address` is still the placeholder "REPLACE-ME": set SKYLAB\'s address: `npm run pulumi -- config set --path host.address <ip-or-name>`'],
    ],
    [
      "address that is neither IPv4 nor a host name",
      "host.address", "skylab;reboot",
      ['`host.address` must be an IPv4 address or a host name (got "skylab;reboot")'],
    ],
    [
      "placeholder host key",
      "host.hostKey", "ssh-ed25519 REPLACE-ME",
      [`\`host.hostKey\` is still the placeholder "ssh-ed25519 REPLACE-ME": ${HOST_KEY_FIX}`],
    ],
    [
      "missing host key",
      "host.hostKey", undefined,
      [`\`host.hostKey\` is required: ${HOST_KEY_FIX}`],
    ],
    [
      "malformed host key (no key type)",
      "host.hostKey", "AAAAC3NzaC1lZDI1NTE5AAAAIGq8",
      [`\`host.hostKey\` must be one public key in authorized_keys format ("ssh-ed25519 AAAA..."): ${HOST_KEY_FIX}`],
    ],
    [
      "two host keys on two lines",
      "host.hostKey", `${HOST_KEY}\nssh-rsa AAAAB3NzaC1yc2E`,
      [`\`host.hostKey\` must be one public key in authorized_keys format ("ssh-ed25519 AAAA..."): ${HOST_KEY_FIX}`],
    ],
    [
      "user admin with become none",
      "host.user", "admin",
      ['`host.become` must be "sudo" when `host.user` is "admin": the scripts need root'],
    ],
    [
      "unknown become",
      "host.become", "doas",
      ['`host.become` must be "none" (log in as root) or "sudo" (an admin user with passwordless sudo)'],
    ],
    [
      "unknown top-level key",
      "hostlook", false,
      ["unknown setting `hostlook`: remove it or check its spelling"],
    ],
    [
      "unknown nested key",
      "storage.mountpoint", "/var/lib/immich",
      ["unknown setting `storage.mountpoint`: remove it or check its spelling"],
    ],
    [
      "bad nginx size",
      "nginx.clientMaxBodySize", "50 GB",
      ['`nginx.clientMaxBodySize` must be an nginx size like "50000M" (got "50 GB")'],
    ],
    [
      "bad host name",
      "nginx.hostName", "immich_skylab.local",
      ['`nginx.hostName` must be a DNS host name like "immich.skylab.local" (got "immich_skylab.local")'],
    ],
    [
      "bad dbPasswordKey",
      "secrets.dbPasswordKey", "immich/",
      ['`secrets.dbPasswordKey` must be a sops key path like "immich/db_password" (got "immich/")'],
    ],
    [
      "sops file outside the repository",
      "secrets.sopsFile", "../secrets.yaml",
      ['`secrets.sopsFile` must be a normalized path inside the config repository, like "secrets/secrets.yaml" (got "../secrets.yaml")'],
    ],
    [
      "negative snapshots to keep",
      "storage.snapshots.keep", -1,
      [
        "`storage.snapshots.keep` must be a whole number from 0 to 100 (got -1): the number of snapshots of the data subvolume " +
          "to keep, e.g. 5; 0 turns snapshots off",
      ],
    ],
    [
      "fractional snapshots to keep",
      "storage.snapshots.keep", 2.5,
      [
        "`storage.snapshots.keep` must be a whole number from 0 to 100 (got 2.5): the number of snapshots of the data subvolume " +
          "to keep, e.g. 5; 0 turns snapshots off",
      ],
    ],
    [
      "too many snapshots to keep",
      "storage.snapshots.keep", 101,
      [
        "`storage.snapshots.keep` must be a whole number from 0 to 100 (got 101): the number of snapshots of the data subvolume " +
          "to keep, e.g. 5; 0 turns snapshots off",
      ],
    ],
    [
      "snapshots to keep as a string",
      "storage.snapshots.keep", "5",
      ["`storage.snapshots.keep` must be a number of snapshots to keep, e.g. 5 (0 turns snapshots off)"],
    ],
    [
      "unknown snapshots setting",
      "storage.snapshots.folder", "@snaps",
      ["unknown setting `storage.snapshots.folder`: remove it or check its spelling"],
    ],
    [
      "subvolume name too long for its snapshots folder",
      "storage.subvolume", `@${"i".repeat(245)}`,
      ['`storage.subvolume` must be at most 245 characters long: its snapshots go to "<subvolume>-snapshots", a name of at most 255'],
    ],
    [
      "unknown rebuild mode",
      "nixos.mode", "reboot",
      ["`nixos.mode` must be one of switch, test, boot, dry-activate"],
    ],
  ])("%s", (_name, path, value, expected) => {
    expect(problemsOf(withField(path, value))).toStrictEqual(expected);
  });

  test("a missing host section is reported as required", () => {
    expect(problemsOf({})).toStrictEqual(["`host` is required"]);
  });

  test("tunnel on: tunnelId and publicHostName are required, each with its fix", () => {
    expect(problemsOf(withField("tunnel", { enabled: true }))).toStrictEqual([
      "`tunnel.tunnelId` is required when `tunnel.enabled` is true: `npm run pulumi -- config set --path tunnel.tunnelId <UUID from cloudflared tunnel list>`",
      "`tunnel.publicHostName` is required when `tunnel.enabled` is true: `npm run pulumi -- config set --path tunnel.publicHostName photos.example.com`",
    ]);
  });

  test.each<[string, unknown, string]>([
    ["tunnel.tunnelId", "my-tunnel",
      '`tunnel.tunnelId` must be the tunnel\'s UUID (got "my-tunnel"): copy it from `cloudflared tunnel list` or the Cloudflare dashboard'],
    ["tunnel.publicHostName", "photos example.com", '`tunnel.publicHostName` must be a DNS host name like "immich.skylab.local" (got "photos example.com")'],
    ["tunnel.credentialsKey", "cloudflared/../x", '`tunnel.credentialsKey` must be a sops key path like "cloudflared/credentials" (got "cloudflared/../x")'],
    ["tunnel.token", "abc", "unknown setting `tunnel.token`: remove it or check its spelling"],
  ])("tunnel: %s = %j", (field, value, problem) => {
    expect(problemsOf(withField(field, value))).toStrictEqual([problem]);
  });

  test("tunnel on with its id and name is accepted; off it needs neither", () => {
    const on = { enabled: true, tunnelId: "6ff42ae2-765d-4adf-8112-31c55c1551ef", publicHostName: "photos.example.com" };
    expect(parseStackConfig(withField("tunnel", on)).tunnel).toStrictEqual({ ...on, credentialsKey: "cloudflared/credentials" });
    expect(parseStackConfig(withField("tunnel", { enabled: false })).tunnel).toStrictEqual({ enabled: false, credentialsKey: "cloudflared/credentials" });
  });

  test("every problem is listed at once, and the error message carries them all", () => {
    const raw = withField("storage.compression", "brotli");
    raw.nginx = { clientMaxBodySize: "huge" };
    let error: unknown;
    try {
      parseStackConfig(raw);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      "invalid stack configuration:\n" +
        '  - `storage.compression` must be one of zstd, zlib, lzo, optionally with a level like "zstd:3" (got "brotli")\n' +
        '  - `nginx.clientMaxBodySize` must be an nginx size like "50000M" (got "huge")',
    );
  });
});

describe("parseStackConfig: values that would reach the host malformed", () => {
  // A level is passed on as the mount option compress=<algorithm>:<level>; only plain decimal digits are a
  // level the kernel parses, and a space would end up inside the fstab options field.
  test.each(["zstd: 3", "zstd:0x3", "zstd:1e1", "zstd:3.0"])("compression %j", (value) => {
    expect(problemsOf(withField("storage.compression", value))).toStrictEqual([
      `\`storage.compression\` level must be an integer from 1 to 15 for zstd (got ${JSON.stringify(value)})`,
    ]);
  });

  // "." is the config repository itself: the program would own it whole (commit every change in it,
  // overwrite its default.nix).
  test("generatedDir \".\"", () => {
    expect(problemsOf(withField("nixos.generatedDir", "."))).toStrictEqual([
      '`nixos.generatedDir` must be a normalized path inside the config repository, like "secrets/secrets.yaml" (got ".")',
    ]);
  });
});

describe("parseStackConfig: unusual values that are valid", () => {
  const odd = "/home/zipang/Pictures/Digi cam \"2024\" $x é";

  test("a path with spaces, quotes, $ and unicode parses unchanged", () => {
    const parsed = parseStackConfig(withField("pictures.source", odd));
    expect(parsed.pictures.source).toBe(odd);
  });

  test.each<[string, unknown]>([
    ["storage.mountPoint", "/srv/my immich's data"],
    ["storage.keepOriginalAt", "/var/lib/immich (before skylab)"],
    ["nixos.configRepo", "/home/zipang/nixos config"],
    ["storage.compression", "zstd:15"],
    ["storage.compression", "zlib:1"],
    ["storage.compression", "lzo"],
    ["storage.mountOptions", ["noatime", "space_cache=v2", "ssd"]],
    ["storage.mountOptions", []],
    ["host.address", "skylab.local"],
    ["host.port", 2222],
    ["storage.mediasLabel", "MEDIAS_2-b"],
    ["nginx.clientMaxBodySize", "512k"],
    ["storage.snapshots", { keep: 0 }],
    ["storage.snapshots", { keep: 100 }],
  ])("%s = %j", (path, value) => {
    const parsed = parseStackConfig(withField(path, value)) as unknown as Record<string, any>;
    const [section, key] = path.split(".");
    expect(parsed[section][key]).toStrictEqual(value);
  });

  test("a sudo admin user is accepted", () => {
    const raw = baseline();
    raw.host = { ...raw.host, user: "admin", become: "sudo" };
    expect(parseStackConfig(raw).host).toStrictEqual({ address: "192.168.1.20", port: 22, user: "admin", become: "sudo", hostKey: HOST_KEY });
  });
});
