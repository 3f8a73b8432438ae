import { NAME, policy } from "../../policy/policies/skylab-secrets-require-secret-values";
import { resourceArgs, violations, withField } from "./harness";

const SCRIPT = "pulumi-nodejs:dynamic/skylab:RemoteScript";
const SOPS = "skylab:secrets:SopsSecret";
const KEY = "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const connection = { host: "10.231.1.2", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", privateKey: KEY, become: "none" };

// The SopsSecret's remote script, as the component builds it with a value from the stack config.
const script = {
  connection,
  description: "sops secret immich/db_password in secrets/secrets.yaml",
  create: "set -euo pipefail",
  values: { REPO: "/etc/nixos", SOPS_FILE: "secrets/secrets.yaml", KEY_PATH: "immich/db_password", AGE_KEY_FILE: "/var/lib/sops-nix/key.txt", GENERATE: "false" },
  stdin: "correct horse battery staple",
  logOutput: false,
  drift: "in-sync",
};
const scriptOpts = { opts: { additionalSecretOutputs: ["stdin"] } };
const sops = {
  connection,
  configRepo: "/etc/nixos",
  sopsFile: "secrets/secrets.yaml",
  key: "immich/db_password",
  ageKeyFile: "/var/lib/sops-nix/key.txt",
  owner: "immich",
  group: "immich",
  restartUnits: ["immich-server.service"],
  modulePath: "modules/generated/skylab-immich/secrets.nix",
  valueSource: "stack-config",
};
const S = 'RemoteScript "immich-db-password-value"';
const keyMessage = (label: string, path: string) =>
  `${label} holds private key material in \`${path}\`, which is stored in plain text in the state: pass a key only as ` +
  "`connection.privateKey` (a Pulumi secret, e.g. `config.requireSecret`) or on a remote script's `stdin`.";

describe(NAME, () => {
  test("the SopsSecret and its script, as the program builds them, pass", async () => {
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-db-password-value", script, scriptOpts))).toEqual([]);
    expect(await violations(policy, resourceArgs(SOPS, "immich-db-password", sops))).toEqual([]);
  });

  test("a script without stdin needs neither the secret output nor logOutput false", async () => {
    const props = withField(withField(script, "stdin", undefined), "logOutput", true);
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-db-password-value", props))).toEqual([]);
  });

  test.each<[string, object, { opts: object } | object, string[]]>([
    ["stdin not declared secret", script, {}, [
      `${S} takes \`stdin\` without declaring it in \`additionalSecretOutputs\`, so the engine may store what it carries in plain text: create it with \`additionalSecretOutputs: ["stdin"]\` (RemoteScript does).`,
    ]],
    ["stdin with logged output", withField(script, "logOutput", true), scriptOpts, [
      `${S} takes \`stdin\` but keeps its output (\`logOutput\` is not false), so anything the script prints about the secret lands in the state: set \`logOutput: false\`.`,
    ]],
    ["a password among the values", withField(script, "values.DB_PASSWORD", "hunter2"), scriptOpts, [
      `${S} passes \`values.DB_PASSWORD\`, which names a secret, in the script's preamble, where it is stored in plain text in the state and appears in error output: pass it on \`stdin\` instead (a Pulumi secret, with \`logOutput: false\`).`,
    ]],
    ["a private key among the values", withField(script, "values.DEPLOY_KEY", KEY), scriptOpts, [keyMessage(S, "values.DEPLOY_KEY")]],
    ["a private key in the description", withField(script, "description", `key ${KEY}`), scriptOpts, [keyMessage(S, "description")]],
  ])("%s is a violation", async (_case, props, options, expected) => {
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-db-password-value", props as Record<string, unknown>, options))).toEqual(expected);
  });

  test("a private key in a component's inputs outside the connection is a violation", async () => {
    expect(await violations(policy, resourceArgs(SOPS, "immich-db-password", withField(sops, "ageKey", KEY)))).toEqual([
      keyMessage('SopsSecret "immich-db-password"', "ageKey"),
    ]);
  });

  test("a SopsSecret whose value reached the engine is a violation", async () => {
    expect(await violations(policy, resourceArgs(SOPS, "immich-db-password", withField(sops, "value", "hunter2")))).toEqual([
      'SopsSecret "immich-db-password" has its `value` among the component\'s inputs, which the engine stores and shows: leave the value out of the args passed to `super` and hand it to the remote script\'s `stdin` only (as SopsSecret does).',
    ]);
  });

  test("a SopsSecret without a value source is a violation", async () => {
    expect(await violations(policy, resourceArgs(SOPS, "immich-db-password", withField(sops, "valueSource", undefined)))).toEqual([
      'SopsSecret "immich-db-password" does not say where its value comes from (`valueSource` is undefined): set it to one of "stack-config", "generated-on-host", as SopsSecret does.',
    ]);
  });

  test("providers carry the stack config, private key included, and are not checked", async () => {
    const props = { "skylab-immich:sshPrivateKey": KEY };
    expect(await violations(policy, resourceArgs("pulumi:providers:pulumi-nodejs", "default", props))).toEqual([]);
  });

  test("a value unknown during preview is skipped, not an error", async () => {
    const props = { ...script, values: new Proxy({ CONTENT: "x" } as Record<string, unknown>, {
      get: (target, key) => { if (key === "CONTENT") throw new Error("unknown during preview"); return target[key as string]; },
    }) };
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-db-password-value", props, scriptOpts))).toEqual([]);
  });
});
