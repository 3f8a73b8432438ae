import { posix } from "path";
import { z } from "zod";
import { parseCompressionSetting } from "./mountOptions";
import { rebuildModes } from "./rebuildMode";

// The stack configuration (`Pulumi.<stack>.yaml`), validated once, before any resource exists. Every rule
// carries its fix, and messages name the key in backticks, as `pulumi config set --path` spells it.

/** Values in Pulumi.skylab.yaml that the user's notes do not give: the program refuses to run with them. */
export const PLACEHOLDER = "REPLACE-ME";

const fixFor = {
  address: "set SKYLAB's address: `npm run pulumi -- config set --path host.address <ip-or-name>`",
  hostKey:
    "pin SKYLAB's SSH host key: run `cat /etc/ssh/ssh_host_ed25519_key.pub` on SKYLAB (or `ssh-keyscan -t ed25519 <address>` " +
    "on a network you trust) and `npm run pulumi -- config set --path host.hostKey 'ssh-ed25519 AAAA...'`",
} as const;

function notPlaceholder(fix: string) {
  return (value: string, ctx: z.RefinementCtx) => {
    if (value.includes(PLACEHOLDER)) ctx.addIssue({ code: "custom", message: `is still the placeholder "${value}": ${fix}` });
  };
}

/** A string matching `regex`; the message says what was given and how to fix it. */
function pattern(regex: RegExp, rule: string, fix = "") {
  return z.string().superRefine((value, ctx) => {
    if (!regex.test(value)) ctx.addIssue({ code: "custom", message: `${rule} (got ${JSON.stringify(value)})${fix ? `: ${fix}` : ""}` });
  });
}

/**
 * Absolute, normalized, no control characters, no backslash, no white space at the end: a path that reaches the
 * host's fstab and mount units exactly as written. Spaces inside, quotes, a lone `$` and unicode are fine.
 */
export const absolutePath = z.string().superRefine((value, ctx) => {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    ctx.addIssue({ code: "custom", message: `must not contain control characters (got ${JSON.stringify(value)}): fstab and systemd cannot express them` });
  } else if (value.includes("\\")) {
    ctx.addIssue({
      code: "custom",
      message: `must not contain a backslash (got ${JSON.stringify(value)}): NixOS writes it into /etc/fstab as it is, where \`\\\` ` +
        "starts an escape, so the mount would name another path; rename the folder",
    });
  } else if (value.includes("${")) {
    ctx.addIssue({
      code: "custom",
      message: `must not contain "\${" (got ${JSON.stringify(value)}): a mount unit with it in What= or Where= does not mount ` +
        "where it says (systemd 252 bound the parent folders instead); rename the folder",
    });
  } else if (/\s$/.test(value)) {
    ctx.addIssue({
      code: "custom",
      message: `must not end with white space (got ${JSON.stringify(value)}): systemd drops white space at the end of a unit's ` +
        "value (the mount unit's What= and Where=), so the mount would name another path; rename the folder",
    });
  } else if (!value.startsWith("/")) {
    ctx.addIssue({ code: "custom", message: `must be an absolute path (got ${JSON.stringify(value)}): write it from the root, e.g. "/${value.replace(/^\.?\/*/, "")}"` });
  } else if (posix.normalize(value) !== value || (value.length > 1 && value.endsWith("/"))) {
    const normalized = posix.normalize(value).replace(/(.)\/$/, "$1");
    ctx.addIssue({ code: "custom", message: `must be a normalized path (got ${JSON.stringify(value)}): use ${JSON.stringify(normalized)}` });
  }
});

/** A path inside the config repository, such as `secrets/secrets.yaml`. */
const repoRelativePath = z.string().superRefine((value, ctx) => {
  const normalized = posix.normalize(value);
  // eslint-disable-next-line no-control-regex
  if (normalized === "." || value.startsWith("/") || normalized.startsWith("..") || normalized !== value || /[\u0000-\u001f]/.test(value) || value.endsWith("/")) {
    ctx.addIssue({ code: "custom", message: `must be a normalized path inside the config repository, like "secrets/secrets.yaml" (got ${JSON.stringify(value)})` });
  }
});

const btrfsLabel = pattern(
  /^[A-Za-z0-9_-]{1,32}$/,
  "must match /^[A-Za-z0-9_-]{1,32}$/",
  "use the label shown by `btrfs filesystem show` (rename with `btrfs filesystem label`)",
);

const subvolumeName = pattern(
  /^(?!\.{1,2}$)[A-Za-z0-9@._+-]{1,255}$/,
  "must be one subvolume name of letters, digits and @._+- (no slashes), like \"@immich\"",
);

const unixName = pattern(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a Unix user or group name (lowercase letters, digits, _ and -, at most 32)");

const hostName = pattern(/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, "must be a DNS host name like \"immich.skylab.local\"");

const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

const port = z.number().int().min(1).max(65535);

/** BTRFS compression algorithms the kernel accepts, with their level ranges. */
export const COMPRESSION_LEVELS: Record<string, [number, number] | undefined> = {
  zstd: [1, 15],
  zlib: [1, 9],
  lzo: undefined,
};

export const compression = z.string().superRefine((value, ctx) => {
  const { algorithm, level, rest } = parseCompressionSetting(value);
  const range = COMPRESSION_LEVELS[algorithm];
  const known = Object.keys(COMPRESSION_LEVELS).join(", ");
  if (!(algorithm in COMPRESSION_LEVELS) || rest.length > 0) {
    ctx.addIssue({ code: "custom", message: `must be one of ${known}, optionally with a level like "zstd:3" (got ${JSON.stringify(value)})` });
  } else if (level !== undefined) {
    const n = /^\d+$/.test(level) ? Number(level) : NaN;
    if (!range || !Number.isInteger(n) || n < range[0] || n > range[1]) {
      ctx.addIssue({
        code: "custom",
        message: range
          ? `level must be an integer from ${range[0]} to ${range[1]} for ${algorithm} (got ${JSON.stringify(value)})`
          : `${algorithm} takes no level (got ${JSON.stringify(value)})`,
      });
    }
  }
});

/** One mount option per list item; `compress`/`subvol` come from their own settings. */
const mountOption = z.string().superRefine((value, ctx) => {
  if (/^(compress|compress-force|subvol|subvolid)(=|$)/.test(value)) {
    ctx.addIssue({ code: "custom", message: `"${value}" is set by \`storage.compression\`/\`storage.subvolume\`, not here: remove it from the list` });
  } else if (!/^[a-z0-9_.:=+-]+$/.test(value)) {
    ctx.addIssue({ code: "custom", message: `must be a single mount option such as "noatime" (got ${JSON.stringify(value)}): list each option as its own item` });
  }
});

export const hostSchema = z.strictObject({
  address: z.string().min(1).superRefine(notPlaceholder(fixFor.address)).superRefine((value, ctx) => {
    if (!ipv4.test(value) && !hostName.safeParse(value).success && !value.includes(PLACEHOLDER)) {
      ctx.addIssue({ code: "custom", message: `must be an IPv4 address or a host name (got ${JSON.stringify(value)})` });
    }
  }),
  port: port.default(22),
  user: unixName.default("root"),
  become: z.enum(["none", "sudo"], { message: "must be \"none\" (log in as root) or \"sudo\" (an admin user with passwordless sudo)" }).default("none"),
  hostKey: z
    .string({ message: `is required: ${fixFor.hostKey}` })
    .superRefine(notPlaceholder(fixFor.hostKey))
    .superRefine((value, ctx) => {
      if (!value.includes(PLACEHOLDER) && !/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( .*)?$/.test(value.trim())) {
        ctx.addIssue({ code: "custom", message: `must be one public key in authorized_keys format ("ssh-ed25519 AAAA..."): ${fixFor.hostKey}` });
      }
    }),
}).superRefine((host, ctx) => {
  if (host.user !== "root" && host.become === "none") {
    ctx.addIssue({ code: "custom", path: ["become"], message: `must be "sudo" when \`host.user\` is "${host.user}": the scripts need root` });
  }
});

/** Read-only snapshots of the data subvolume before each activation (components/shell/nixos-apply.sh). */
export const snapshotsSchema = z.strictObject({
  /** How many of the program's snapshots stay; 0: none are taken and none deleted. */
  keep: z.number({ message: "must be a number of snapshots to keep, e.g. 5 (0 turns snapshots off)" }).superRefine((value, ctx) => {
    if (!Number.isInteger(value) || value < 0 || value > 100) {
      ctx.addIssue({
        code: "custom",
        message: `must be a whole number from 0 to 100 (got ${JSON.stringify(value)}): the number of snapshots of the data subvolume to keep, e.g. 5; 0 turns snapshots off`,
      });
    }
  }).default(5),
});

export const storageSchema = z.strictObject({
  mediasLabel: btrfsLabel.default("MEDIAS"),
  subvolume: subvolumeName.default("@immich"),
  mountPoint: absolutePath.default("/var/lib/immich"),
  compression: compression.default("zstd"),
  mountOptions: z.array(mountOption).default(["noatime"]),
  /** Lets `pulumi destroy` delete the subvolume and everything Immich stored in it. */
  allowDataLoss: z.boolean().default(false),
  /** Where the data found at mountPoint before the migration is kept (never deleted by the program). */
  keepOriginalAt: absolutePath.optional(),
  snapshots: snapshotsSchema.default(snapshotsSchema.parse({})),
}).superRefine((storage, ctx) => {
  // Snapshots live in the folder "<subvolume>-snapshots" next to it, itself a name of at most 255 bytes.
  if (Buffer.byteLength(snapshotFolder(storage.subvolume)) > 255) {
    ctx.addIssue({ code: "custom", path: ["subvolume"], message: `must be at most 245 characters long: its snapshots go to "<subvolume>-snapshots", a name of at most 255` });
  }
});

/** The folder at the top level of the filesystem that holds the data subvolume's snapshots. */
export function snapshotFolder(subvolume: string): string {
  return `${subvolume}-snapshots`;
}

export const picturesSchema = z.strictObject({
  source: absolutePath.default("/home/zipang/Pictures/Digicam"),
  mountPoint: absolutePath.default("/media/immich"),
});


export const nixosSchema = z.strictObject({
  configRepo: absolutePath.default("/etc/nixos"),
  /** Folder inside configRepo that the program owns whole. */
  generatedDir: repoRelativePath.default("modules/generated/skylab-immich"),
  mode: z.enum(rebuildModes, { message: `must be one of ${rebuildModes.join(", ")}` }).default("switch"),
  /** Seconds the host waits for the deployer's confirmation before it rolls itself back. */
  confirmTimeoutSeconds: z.number().int().min(10).max(3600).default(120),
  /**
   * Seconds verification may wait for the services to come up (units active, HTTP answering) before it
   * counts a check as failed and the host rolls back. Immich takes seconds to tens of seconds after a restart.
   */
  verifyTimeoutSeconds: z.number().int().min(5).max(3600).default(180),
  /** Seconds `nixos-rebuild test` may take on the host before the apply gives up and rolls back. */
  activationTimeoutSeconds: z.number().int().min(30).max(7200).default(900),
  /**
   * Seconds an apply waits for another one on the same host (another stack, another deployer) to end before it
   * gives up, naming the holder; 0: never wait.
   */
  lockWaitSeconds: z.number().int().min(0).max(7200).default(300),
});

export const immichSchema = z.strictObject({
  host: z.string().default("127.0.0.1"),
  port: port.default(2283),
  user: unixName.default("immich"),
  group: unixName.default("immich"),
  machineLearning: z.boolean().default(true),
  /**
   * "tcp" (default): Immich logs in over 127.0.0.1 with the password `immich/db_password`, which
   * immich-db-password.service gives PostgreSQL's role. "socket": nixpkgs' default peer login over
   * /run/postgresql (the password is managed but not used).
   */
  databaseMode: z.enum(["socket", "tcp"], { message: "must be \"socket\" or \"tcp\"" }).default("tcp"),
  publicProxy: z.strictObject({ enabled: z.boolean().default(false), port: port.default(3000) }).default({ enabled: false, port: 3000 }),
});

export const nginxSchema = z.strictObject({
  hostName: hostName.default("immich.skylab.local"),
  clientMaxBodySize: pattern(/^\d+[kKmMgG]?$/, "must be an nginx size like \"50000M\"").default("50000M"),
});

export const secretsSchema = z.strictObject({
  sopsFile: repoRelativePath.default("secrets/secrets.yaml"),
  /** Age identity on the host that can decrypt sopsFile (sops-nix default location). */
  ageKeyFile: absolutePath.default("/var/lib/sops-nix/key.txt"),
  dbPasswordKey: pattern(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, "must be a sops key path like \"immich/db_password\"").default("immich/db_password"),
});

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A Cloudflare Tunnel to nginx (components/CloudflareTunnel.ts); its credentials are the secret `tunnelCredentials`. */
export const tunnelSchema = z.strictObject({
  /** Off by default: nothing of the tunnel is on the host. */
  enabled: z.boolean().default(false),
  /** The tunnel's UUID (`cloudflared tunnel list`), the name nixpkgs' services.cloudflared.tunnels uses. */
  tunnelId: pattern(uuid, "must be the tunnel's UUID", "copy it from `cloudflared tunnel list` or the Cloudflare dashboard").optional(),
  /** The public name the tunnel routes to nginx, e.g. "photos.example.com" (a DNS route to the tunnel in Cloudflare). */
  publicHostName: hostName.optional(),
  /** The sops key of the credentials JSON. */
  credentialsKey: pattern(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, "must be a sops key path like \"cloudflared/credentials\"").default("cloudflared/credentials"),
}).superRefine((tunnel, ctx) => {
  if (!tunnel.enabled) return;
  if (tunnel.tunnelId === undefined) {
    ctx.addIssue({
      code: "custom", path: ["tunnelId"],
      message: "is required when `tunnel.enabled` is true: `npm run pulumi -- config set --path tunnel.tunnelId <UUID from cloudflared tunnel list>`",
    });
  }
  if (tunnel.publicHostName === undefined) {
    ctx.addIssue({
      code: "custom", path: ["publicHostName"],
      message: "is required when `tunnel.enabled` is true: `npm run pulumi -- config set --path tunnel.publicHostName photos.example.com`",
    });
  }
});

/** Immich's External Library, managed through Immich's API over SSH (components/ImmichExternalLibrary.ts). */
export const librarySchema = z.strictObject({
  /** Off by default: it needs Immich running on SKYLAB and an API key (`immichApiKey`). */
  enabled: z.boolean().default(false),
  name: z.string().trim().min(1, { message: "must not be empty: the library's name in Immich, e.g. \"Digicam\"" }).max(255).default("Digicam"),
  /** The owner's Immich user id (Administration → Users). Default: the API key's user. */
  ownerId: pattern(uuid, "must be an Immich user id (a UUID)", "copy it from Administration → Users → the user in Immich").optional(),
  /** Alternative to ownerId: must be the API key's own user (checked against Immich). */
  ownerEmail: z.string().email({ message: "must be an email address (the Immich login of the API key's user)" }).optional(),
  /** Folders as Immich sees them: under /home nothing is visible to Immich (ProtectHome), hence /media/immich. */
  importPaths: z.array(absolutePath).min(1, { message: "must list at least one folder, e.g. [\"/media/immich\"]" }).default(["/media/immich"]),
  exclusionPatterns: z.array(z.string().min(1, { message: "must not contain empty patterns" })).default(["**/@eaDir/**", "**/.*"]),
  /** Wait for the scan after a change and export its timing (indexingSeconds, indexingAssetsFound, ...). */
  scanAndWait: z.boolean().default(true),
  scanTimeoutSeconds: z.number().int().min(10).max(86400).default(3600),
  /** Change to any other value to scan (and time) again without other changes. */
  rescanToken: z.string().optional(),
  /** `pulumi destroy` deletes the library in Immich, with its assets' albums, faces and metadata. */
  deleteOnDestroy: z.boolean().default(false),
  /** Immich's address as seen on SKYLAB (reached through an SSH port forward). */
  apiUrl: pattern(/^http:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be http://HOST[:PORT] as seen on SKYLAB, e.g. \"http://127.0.0.1:2283\"").default("http://127.0.0.1:2283"),
}).superRefine((library, ctx) => {
  if (library.ownerId !== undefined && library.ownerEmail !== undefined) {
    ctx.addIssue({ code: "custom", path: ["ownerEmail"], message: "and `library.ownerId` are both set: keep one" });
  }
});

export const stackSchema = z.strictObject({
  host: hostSchema,
  storage: storageSchema.default(storageSchema.parse({})),
  pictures: picturesSchema.default(picturesSchema.parse({})),
  nixos: nixosSchema.default(nixosSchema.parse({})),
  immich: immichSchema.default(immichSchema.parse({})),
  nginx: nginxSchema.default(nginxSchema.parse({})),
  secrets: secretsSchema.default(secretsSchema.parse({})),
  /** Absent: no Cloudflare Tunnel (as with `enabled: false`). */
  tunnel: tunnelSchema.default(tunnelSchema.parse({})),
  /** Absent: the External Library is not managed (as with `enabled: false`). */
  library: librarySchema.optional(),
  /** Look at the host during preview and up (drift, preflight). Off: nothing is checked, and the output says so. */
  hostLook: z.boolean().default(true),
});

export type StackConfig = z.infer<typeof stackSchema>;

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the stack's plain (non-secret) configuration. Throws ConfigError listing every problem. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
  // reportInput: zod 4 leaves `input` out of issues otherwise, and every wrong type would read as "required".
  const result = stackSchema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join(".");
    if (issue.code === "unrecognized_keys") {
      const prefix = key ? `${key}.` : "";
      return `unknown setting ${issue.keys.map((k) => `\`${prefix}${k}\``).join(", ")}: remove it or check its spelling`;
    }
    if (issue.code === "invalid_type" && issue.input === undefined) {
      return `\`${key}\` is required${issue.message.startsWith("is required") ? issue.message.slice("is required".length) : ""}`;
    }
    return `\`${key}\` ${issue.message}`;
  });
  throw new ConfigError(problems);
}
