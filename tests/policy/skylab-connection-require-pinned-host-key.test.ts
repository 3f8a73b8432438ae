import { NAME, policy } from "../../policy/policies/skylab-connection-require-pinned-host-key";
import { resourceArgs, violations, withField } from "./harness";

const SCRIPT = "pulumi-nodejs:dynamic/skylab:RemoteScript";
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPE06j1JNrdU/hURFLg+1gZUrBDtHm31rA7zHwKfYAWV";
const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7LwsbZ5uMzCgk8W2R+GT+C6/us2OhfdyVdUK3SSjOr+9tH9YMNaw3vZqdCxO5AnNFsZk6aHKJNvdxX2v7z1WUtsrf0H9OtviaFnDhivwfl7TqDM7kDk8V29F2zxGOer2uyk6C/9Z37XAIedPBo/1JrYP2eNKvcCZBRifjPL0P+Q==";
const FIX =
  "set it to the host's public key in authorized_keys format, from `cat /etc/ssh/ssh_host_ed25519_key.pub` on the host " +
  "(stack config `host.hostKey`: `npm run pulumi -- config set --path host.hostKey 'ssh-ed25519 AAAA...'`).";

const baseline = {
  connection: { host: "10.231.1.2", port: 22, user: "root", hostKey: ED25519, privateKey: "KEY", become: "none" },
  description: "btrfs subvolume @immich on MEDIAS",
  create: "set -euo pipefail",
  values: {},
  logOutput: true,
};
const S = 'RemoteScript "immich-subvolume-subvolume" connects to 10.231.1.2';
const malformed = (why: string) => `${S} with a \`connection.hostKey\` that is not one public key in authorized_keys format (${why}): ${FIX}`;

describe(NAME, () => {
  test("a script pinning an ed25519 host key passes", async () => {
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-subvolume-subvolume", baseline))).toEqual([]);
  });

  test.each<[string, string]>([
    ["an RSA key", RSA],
    ["a key with a comment", `${ED25519} root@skylab`],
    ["surrounding whitespace", `  ${ED25519}\n`],
  ])("%s passes", async (_case, hostKey) => {
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-subvolume-subvolume", withField(baseline, "connection.hostKey", hostKey)))).toEqual([]);
  });

  test.each<[string, unknown, string]>([
    ["no host key", undefined, `${S} without a pinned host key: set \`connection.hostKey\`; ${FIX}`],
    ["an empty host key", "", `${S} without a pinned host key: set \`connection.hostKey\`; ${FIX}`],
    ["the placeholder", "ssh-ed25519 REPLACE-ME", malformed("its key data is not base64")],
    ["a fingerprint instead of a key", "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s", malformed('its key type "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s" is not one of ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com')],
    ["a known_hosts line (host name first)", `10.231.1.2 ${ED25519}`, malformed('its key type "10.231.1.2" is not one of ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com')],
    ["a type that does not match the key data", `ssh-rsa ${ED25519.split(" ")[1]}`, malformed("its key data is not a ssh-rsa key")],
    ["truncated key data", ED25519.slice(0, 30), malformed("its key data is not base64")],
    ["two keys", `${ED25519}\n${RSA}`, malformed("it holds more than one line")],
  ])("%s is a violation", async (_case, hostKey, expected) => {
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-subvolume-subvolume", withField(baseline, "connection.hostKey", hostKey)))).toEqual([expected]);
  });

  test("a script without a connection is a violation", async () => {
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-subvolume-subvolume", withField(baseline, "connection", undefined)))).toEqual([
      `RemoteScript "immich-subvolume-subvolume" has no \`connection\`, so nothing pins the host it runs on: give it a connection whose \`hostKey\` ${FIX}`,
    ]);
  });

  test("components are not checked: the script is where the connection is used", async () => {
    const props = withField(baseline, "connection.hostKey", undefined);
    expect(await violations(policy, resourceArgs("skylab:storage:BtrfsSubvolume", "immich-subvolume", props))).toEqual([]);
  });
});
