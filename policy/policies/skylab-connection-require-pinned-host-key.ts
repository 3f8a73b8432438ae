import type { ResourceValidationPolicy } from "@pulumi/policy";
import { hostKeyProblem } from "../lib/hostKey";
import { isRecord, resourceLabel, TYPES } from "../lib/resources";

export const NAME = "skylab-connection-require-pinned-host-key";

const FIX =
  "set it to the host's public key in authorized_keys format, from `cat /etc/ssh/ssh_host_ed25519_key.pub` on the host " +
  "(stack config `host.hostKey`: `npm run pulumi -- config set --path host.hostKey 'ssh-ed25519 AAAA...'`)";

export const policy: ResourceValidationPolicy = {
  name: NAME,
  description:
    "Every remote script must connect with a pinned SSH host key in authorized_keys format: without it the SSH " +
    "client accepts any host that answers at the address, and would hand root's commands and secrets to it.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== TYPES.remoteScript) return;
    const connection = args.props.connection;
    const label = resourceLabel(args.type, args.name);
    if (!isRecord(connection)) {
      reportViolation(`${label} has no \`connection\`, so nothing pins the host it runs on: give it a connection whose \`hostKey\` ${FIX}.`);
      return;
    }
    const target = `${connection.host}`;
    const hostKey = connection.hostKey;
    if (typeof hostKey !== "string" || hostKey.trim() === "") {
      reportViolation(`${label} connects to ${target} without a pinned host key: set \`connection.hostKey\`; ${FIX}.`);
      return;
    }
    const problem = hostKeyProblem(hostKey);
    if (problem) {
      reportViolation(`${label} connects to ${target} with a \`connection.hostKey\` that is not one public key in authorized_keys format (${problem}): ${FIX}.`);
    }
  },
};
