import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isRecord, resourceLabel, TYPES } from "../lib/resources";

export const NAME = "skylab-secrets-require-secret-values";

/**
 * @pulumi/policy 1.21 unwraps secrets before `validateResource` sees the props (deserializeProperties with
 * proxySecrets=false), so whether a value is a Pulumi secret cannot be checked there. What can be checked is
 * where secret material sits and whether the places that must carry it are declared secret: this policy
 * checks those.
 */

/** A `values` key that names secret material; values are spliced into the script's preamble and stored plain. */
const SECRET_NAME = /(^|_)(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIALS?)(_|$)/;
const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const SOPS_VALUE_SOURCES = ["stack-config", "generated-on-host"];

/** Paths (dotted) of strings under `value` that hold a private key, outside the places meant for one. */
function privateKeyPaths(value: unknown, path: string[], allowed: ReadonlySet<string>, found: string[]): string[] {
  const dotted = path.join(".");
  if (allowed.has(dotted)) return found;
  if (typeof value === "string") {
    if (PRIVATE_KEY_BLOCK.test(value)) found.push(dotted);
  } else if (Array.isArray(value) || isRecord(value)) {
    const node = value as Record<string, unknown>;
    for (const key of Object.keys(node)) {
      let child: unknown;
      try {
        child = node[key];
      } catch {
        // An unknown value (preview) throws on access; it cannot hold key material yet.
        continue;
      }
      privateKeyPaths(child, [...path, key], allowed, found);
    }
  }
  return found;
}

/** Where a private key belongs: the SSH connection's key (a secret by contract) and a script's stdin. */
const KEY_PLACES = new Set(["connection.privateKey", "stdin"]);

export const policy: ResourceValidationPolicy = {
  name: NAME,
  description:
    "Secrets (private keys, passwords) must travel only where the program keeps them secret: the connection's " +
    "private key and a remote script's stdin, declared secret and kept out of logged output; never in script " +
    "values, descriptions or component inputs, which are stored in plain text in the state and shown in the CLI.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    // Providers carry the stack config (sshPrivateKey among it) as their inputs, as secrets.
    if (args.type.startsWith("pulumi:providers:")) return;
    const label = resourceLabel(args.type, args.name);
    const props = args.props;
    for (const path of privateKeyPaths(props, [], KEY_PLACES, [])) {
      reportViolation(
        `${label} holds private key material in \`${path}\`, which is stored in plain text in the state: pass a key only as ` +
          "`connection.privateKey` (a Pulumi secret, e.g. `config.requireSecret`) or on a remote script's `stdin`.",
      );
    }
    if (args.type === TYPES.remoteScript) {
      const values = props.values;
      if (isRecord(values)) {
        for (const key of Object.keys(values)) {
          if (SECRET_NAME.test(key)) {
            reportViolation(
              `${label} passes \`values.${key}\`, which names a secret, in the script's preamble, where it is stored in plain ` +
                "text in the state and appears in error output: pass it on `stdin` instead (a Pulumi secret, with `logOutput: false`).",
            );
          }
        }
      }
      if (props.stdin !== undefined && props.stdin !== null) {
        if (!args.opts.additionalSecretOutputs.includes("stdin")) {
          reportViolation(
            `${label} takes \`stdin\` without declaring it in \`additionalSecretOutputs\`, so the engine may store what it ` +
              'carries in plain text: create it with `additionalSecretOutputs: ["stdin"]` (RemoteScript does).',
          );
        }
        if (props.logOutput !== false) {
          reportViolation(
            `${label} takes \`stdin\` but keeps its output (\`logOutput\` is not false), so anything the script prints ` +
              "about the secret lands in the state: set `logOutput: false`.",
          );
        }
      }
    }
    if (args.type === TYPES.sopsSecret) {
      if ("value" in props) {
        reportViolation(
          `${label} has its \`value\` among the component's inputs, which the engine stores and shows: leave the value out of ` +
            "the args passed to `super` and hand it to the remote script's `stdin` only (as SopsSecret does).",
        );
      }
      if (!SOPS_VALUE_SOURCES.includes(props.valueSource)) {
        reportViolation(
          `${label} does not say where its value comes from (\`valueSource\` is ${JSON.stringify(props.valueSource)}): ` +
            `set it to one of ${SOPS_VALUE_SOURCES.map((s) => `"${s}"`).join(", ")}, as SopsSecret does.`,
        );
      }
    }
  },
};
