import * as pulumi from "./pulumi";
import { ConfigError, parseStackConfig, StackConfig } from "./config";
import { refuse } from "./refusal";
import type { Become } from "./remote/ssh";

/** Top-level keys of the stack config (`<project>:<key>` in Pulumi.<stack>.yaml). */
export const CONFIG_KEYS = ["host", "storage", "pictures", "nixos", "immich", "nginx", "secrets", "library", "tunnel", "hostLook"] as const;

/** Top-level keys that hold secrets (set with `config set --secret`). */
export const SECRET_KEYS = ["sshPrivateKey", "dbPassword", "immichApiKey", "tunnelCredentials"] as const;

export interface Stack {
  config: StackConfig;
  privateKey: pulumi.Output<string>;
  /** Immich's database password; undefined: generated on the host. */
  dbPassword?: pulumi.Output<string>;
  /** An Immich administrator's API key, for the External Library; undefined when not set. */
  immichApiKey?: pulumi.Output<string>;
  /** The Cloudflare Tunnel's credentials JSON; undefined when not set. */
  tunnelCredentials?: pulumi.Output<string>;
  connection: { host: string; port: number; user: string; hostKey: string; become: Become };
}

/** Reads and validates the whole stack config once; throws one error listing every problem. */
export function readStack(
  config: pulumi.Config,
  isSecret: (key: string) => boolean = configIsSecret,
  allKeys: string[] = Object.keys(pulumi.runtime.allConfig()),
): Stack {
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = config.getObject<unknown>(key);
    if (value !== undefined) raw[key] = value;
  }
  // A misspelled top-level key (`hostlook`) would otherwise be ignored without a word.
  const known = new Set<string>([...CONFIG_KEYS, ...SECRET_KEYS]);
  for (const fullKey of allKeys) {
    const [namespace, key] = fullKey.split(":", 2);
    if (namespace === config.name && key !== undefined && !known.has(key)) raw[key] = config.get(key);
  }
  const problems: string[] = [];
  let parsed: StackConfig | undefined;
  try {
    parsed = parseStackConfig(raw);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const secretProblem = (key: string, fix: string) => {
    if (config.get(key) === undefined) return fix ? `\`${key}\` is required: ${fix}` : undefined;
    if (!isSecret(`${config.name}:${key}`)) {
      return `\`${key}\` is stored in plain text in the stack file: set it again with \`npm run pulumi -- config set --secret ${key}\``;
    }
    return undefined;
  };
  const keyProblem = secretProblem(
    "sshPrivateKey",
    "give the private key of the SSH user: `npm run pulumi -- config set --secret sshPrivateKey < ~/.ssh/id_ed25519`",
  );
  if (keyProblem) problems.push(keyProblem);
  const passwordProblem = secretProblem("dbPassword", "") ?? dbPasswordProblem(config.get("dbPassword"));
  if (passwordProblem) problems.push(passwordProblem);
  const apiKeyProblem = secretProblem(
    "immichApiKey",
    parsed?.library?.enabled
      ? "`library.enabled` is true, so the program needs an Immich API key: in Immich, Account Settings → API Keys → " +
        "New API Key (as an administrator), then `npm run pulumi -- config set --secret immichApiKey` and paste it"
      : "",
  );
  if (apiKeyProblem) problems.push(apiKeyProblem);
  const credentialsProblem = secretProblem(
    "tunnelCredentials",
    parsed?.tunnel.enabled
      ? "`tunnel.enabled` is true, so the program needs the tunnel's credentials JSON (written by `cloudflared tunnel create`, " +
        "~/.cloudflared/<tunnel id>.json): `npm run pulumi -- config set --secret tunnelCredentials < ~/.cloudflared/<tunnel id>.json`"
      : "",
  );
  if (credentialsProblem) problems.push(credentialsProblem);
  if (problems.length || !parsed) throw new ConfigError(problems);
  return {
    config: parsed,
    privateKey: config.requireSecret("sshPrivateKey"),
    dbPassword: config.get("dbPassword") === undefined ? undefined : config.requireSecret("dbPassword"),
    immichApiKey: config.get("immichApiKey") === undefined ? undefined : config.requireSecret("immichApiKey"),
    tunnelCredentials: config.get("tunnelCredentials") === undefined ? undefined : config.requireSecret("tunnelCredentials"),
    connection: {
      host: parsed.host.address,
      port: parsed.host.port,
      user: parsed.host.user,
      hostKey: parsed.host.hostKey.trim(),
      become: parsed.host.become,
    },
  };
}

/**
 * Immich reads DB_PASSWORD from an EnvironmentFile, where systemd drops backslashes, ends the value at a
 * line break, trims white space at either end and takes a leading quote as quoting: such a password would
 * differ from PostgreSQL's and Immich could not log in. The message never shows the value.
 */
export function dbPasswordProblem(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/[\\\n\r]|^\s|\s$|^["']/.test(value)) return undefined;
  return "`dbPassword` holds a backslash or a line break, or starts or ends with white space, or starts with a quote: " +
    "systemd's EnvironmentFile (how Immich gets DB_PASSWORD) would change it and Immich could not log in to PostgreSQL; " +
    "set another with `npm run pulumi -- config set --secret dbPassword` (it asks for the value), or let the host " +
    "generate one: `npm run pulumi -- config rm dbPassword`";
}

function configIsSecret(fullKey: string): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const runtime = require("@pulumi/pulumi/runtime/config");
  return typeof runtime.isConfigSecret === "function" ? runtime.isConfigSecret(fullKey) : true;
}

/** {@link readStack}, with settings errors shown as their message alone (no stack trace) and the program ended. */
export async function readStackOrRefuse(config: pulumi.Config): Promise<Stack> {
  try {
    return readStack(config);
  } catch (err) {
    if (err instanceof ConfigError) return refuse(err.message);
    throw err;
  }
}
