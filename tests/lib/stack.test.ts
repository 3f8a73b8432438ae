import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../lib/config";
import { readStack } from "../../lib/stack";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8Jt0b6pQ2ZbXv2zU6b1kV3mZ0nS8rQ5fW1yH7cE9d";
const PRIVATE_KEY = "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----\n";
const MISSING_KEY =
  "`sshPrivateKey` is required: give the private key of the SSH user: " +
  "`npm run pulumi -- config set --secret sshPrivateKey < ~/.ssh/id_ed25519`";
const PLAIN_KEY =
  "`sshPrivateKey` is stored in plain text in the stack file: set it again with " +
  "`npm run pulumi -- config set --secret sshPrivateKey`";

/**
 * The parts of pulumi.Config that readStack uses, over a plain map: objects for the structured keys,
 * strings for the secrets. Records which keys readStack asked `isSecret` about.
 */
function fakeConfig(values: Record<string, unknown>): pulumi.Config {
  const fake = {
    name: "skylab-immich",
    getObject<T>(key: string): T | undefined {
      return values[key] as T | undefined;
    },
    get(key: string): string | undefined {
      const value = values[key];
      return value === undefined ? undefined : typeof value === "string" ? value : JSON.stringify(value);
    },
    requireSecret(key: string): pulumi.Output<string> {
      const value = values[key];
      if (typeof value !== "string") throw new Error(`fake config: ${key} is not set`);
      return pulumi.secret(value);
    },
  };
  return fake as unknown as pulumi.Config;
}

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("readStack accepted the configuration");
}

const HOST = { address: "skylab.local", hostKey: `${HOST_KEY}\n`, port: 2222, user: "admin", become: "sudo" };

describe("readStack with a fake config", () => {
  test("happy path: validated config, connection fields (host key trimmed) and the key as a secret", async () => {
    const asked: string[] = [];
    const stack = readStack(fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY }), (key) => {
      asked.push(key);
      return true;
    });
    expect(stack.connection).toStrictEqual({ host: "skylab.local", port: 2222, user: "admin", hostKey: HOST_KEY, become: "sudo" });
    expect(stack.config.storage.mountPoint).toBe("/var/lib/immich");
    expect(stack.dbPassword).toBeUndefined();
    expect(await valueOf(stack.privateKey)).toBe(PRIVATE_KEY);
    expect(await pulumi.isSecret(stack.privateKey)).toBe(true);
    // Secrecy is asked about with the project-qualified key, as the engine names it.
    expect(asked).toStrictEqual(["skylab-immich:sshPrivateKey"]);
  });

  test("a dbPassword that is a secret is returned as a secret output", async () => {
    const stack = readStack(fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, dbPassword: "hunter2" }), () => true);
    expect(stack.dbPassword).toBeDefined();
    expect(await valueOf(stack.dbPassword!)).toBe("hunter2");
    expect(await pulumi.isSecret(stack.dbPassword!)).toBe(true);
  });

  test.each([
    ["a backslash", "ab\\cd"], ["a line break", "abcd\n"], ["white space at the start", " abcd"],
    ["white space at the end", "abcd\t"], ["a leading double quote", '"abcd"'], ["a leading single quote", "'abcd"],
  ])("a dbPassword with %s is refused, with the reason and the fix, never the value", (_what, password) => {
    const config = fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, dbPassword: password });
    const problems = problemsOf(() => readStack(config, () => true));
    expect(problems).toStrictEqual([
      "`dbPassword` holds a backslash or a line break, or starts or ends with white space, or starts with a quote: " +
      "systemd's EnvironmentFile (how Immich gets DB_PASSWORD) would change it and Immich could not log in to PostgreSQL; " +
      "set another with `npm run pulumi -- config set --secret dbPassword` (it asks for the value), or let the host " +
      "generate one: `npm run pulumi -- config rm dbPassword`",
    ]);
    expect(problems[0]).not.toContain(password);
  });

  test("quotes, `$`, backticks and spaces inside a dbPassword are kept as they are, so they are accepted", () => {
    for (const password of ["Pz9-poison'\"$HOME`id`-7f3a1c", "a b c", "x\"y'z", "_%+,./:=@^~"]) {
      expect(readStack(fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, dbPassword: password }), () => true).dbPassword).toBeDefined();
    }
  });

  test("missing sshPrivateKey: exact message", () => {
    expect(problemsOf(() => readStack(fakeConfig({ host: HOST }), () => true))).toStrictEqual([MISSING_KEY]);
  });

  test("sshPrivateKey present but not secret: exact message", () => {
    const config = fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY });
    expect(problemsOf(() => readStack(config, () => false))).toStrictEqual([PLAIN_KEY]);
  });

  test("a plain-text dbPassword is refused even when the key is a secret", () => {
    const config = fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, dbPassword: "hunter2" });
    expect(problemsOf(() => readStack(config, (key) => key === "skylab-immich:sshPrivateKey"))).toStrictEqual([
      "`dbPassword` is stored in plain text in the stack file: set it again with `npm run pulumi -- config set --secret dbPassword`",
    ]);
  });

  test("config problems and secret problems are listed together, config first", () => {
    const config = fakeConfig({ host: { address: "REPLACE-ME", hostKey: HOST_KEY }, nginx: { hostName: "a b" }, dbPassword: "x" });
    expect(problemsOf(() => readStack(config, () => false))).toStrictEqual([
      "`host.address` is still the placeholder \"REPLACE-ME\": set SKYLAB's address: `npm run pulumi -- config set --path host.address <ip-or-name>`",
      '`nginx.hostName` must be a DNS host name like "immich.skylab.local" (got "a b")',
      MISSING_KEY,
      "`dbPassword` is stored in plain text in the stack file: set it again with `npm run pulumi -- config set --secret dbPassword`",
    ]);
  });
});

describe("readStack with the real pulumi.Config and the engine's secret-key list", () => {
  afterEach(() => pulumi.runtime.setAllConfig({}, []));

  const plain = {
    "skylab-immich:host": JSON.stringify({ address: "192.168.1.20", hostKey: HOST_KEY }),
    "skylab-immich:storage": JSON.stringify({ compression: "zstd:3" }),
    "skylab-immich:sshPrivateKey": PRIVATE_KEY,
  };

  test("a key listed as secret is accepted", async () => {
    pulumi.runtime.setAllConfig(plain, ["skylab-immich:sshPrivateKey"]);
    const stack = readStack(new pulumi.Config("skylab-immich"));
    expect(stack.connection).toStrictEqual({ host: "192.168.1.20", port: 22, user: "root", hostKey: HOST_KEY, become: "none" });
    expect(stack.config.storage.compression).toBe("zstd:3");
    expect(await valueOf(stack.privateKey)).toBe(PRIVATE_KEY);
  });

  test("the same key not listed as secret is refused", () => {
    pulumi.runtime.setAllConfig(plain, []);
    expect(problemsOf(() => readStack(new pulumi.Config("skylab-immich")))).toStrictEqual([PLAIN_KEY]);
  });
});

describe("readStack: keys it does not know", () => {
  test("a misspelled top-level key of the project is reported; other projects' keys are not", () => {
    const config = fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, hostlook: "false" });
    const keys = ["skylab-immich:host", "skylab-immich:sshPrivateKey", "skylab-immich:hostlook", "aws:region"];
    expect(problemsOf(() => readStack(config, () => true, keys))).toStrictEqual([
      "unknown setting `hostlook`: remove it or check its spelling",
    ]);
  });

  test("the secret keys are known", () => {
    const config = fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, dbPassword: "pw" });
    const keys = ["skylab-immich:host", "skylab-immich:sshPrivateKey", "skylab-immich:dbPassword"];
    expect(readStack(config, () => true, keys).connection.host).toBe("skylab.local");
  });
});

describe("readStack: the Immich API key", () => {
  const LIBRARY_ON = { enabled: true };
  const missing =
    "`immichApiKey` is required: `library.enabled` is true, so the program needs an Immich API key: in Immich, " +
    "Account Settings → API Keys → New API Key (as an administrator), then `npm run pulumi -- config set --secret immichApiKey` and paste it";

  test("required while the library is enabled", () => {
    expect(problemsOf(() => readStack(fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, library: LIBRARY_ON }), () => true, []))).toStrictEqual([missing]);
  });

  test("refused in plain text", () => {
    const config = fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, library: LIBRARY_ON, immichApiKey: "k3y" });
    expect(problemsOf(() => readStack(config, (key) => key !== "skylab-immich:immichApiKey", []))).toStrictEqual([
      "`immichApiKey` is stored in plain text in the stack file: set it again with `npm run pulumi -- config set --secret immichApiKey`",
    ]);
  });

  test("not needed while the library is off", () => {
    expect(readStack(fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY }), () => true, []).immichApiKey).toBeUndefined();
  });
});

describe("readStack: the Cloudflare Tunnel's credentials", () => {
  const TUNNEL_ON = { enabled: true, tunnelId: "6ff42ae2-765d-4adf-8112-31c55c1551ef", publicHostName: "photos.example.com" };
  const missing =
    "`tunnelCredentials` is required: `tunnel.enabled` is true, so the program needs the tunnel's credentials JSON (written by " +
    "`cloudflared tunnel create`, ~/.cloudflared/<tunnel id>.json): " +
    "`npm run pulumi -- config set --secret tunnelCredentials < ~/.cloudflared/<tunnel id>.json`";

  test("required while the tunnel is enabled", () => {
    expect(problemsOf(() => readStack(fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, tunnel: TUNNEL_ON }), () => true, []))).toStrictEqual([missing]);
  });

  test("refused in plain text", () => {
    const config = fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY, tunnel: TUNNEL_ON, tunnelCredentials: "{}" });
    expect(problemsOf(() => readStack(config, (key) => key !== "skylab-immich:tunnelCredentials", []))).toStrictEqual([
      "`tunnelCredentials` is stored in plain text in the stack file: set it again with `npm run pulumi -- config set --secret tunnelCredentials`",
    ]);
  });

  test("not needed while the tunnel is off (the default)", () => {
    expect(readStack(fakeConfig({ host: HOST, sshPrivateKey: PRIVATE_KEY }), () => true, []).tunnelCredentials).toBeUndefined();
  });
});
