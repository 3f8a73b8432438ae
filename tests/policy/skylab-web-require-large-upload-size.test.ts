import { NAME, policy } from "../../policy/policies/skylab-web-require-large-upload-size";
import { parseNginxSize } from "../../policy/lib/sizes";
import { resourceArgs, violations, withField } from "./harness";

const VHOST = "skylab:web:NginxVhost";
const vhost = { configRepo: "/etc/nixos", modulePath: "modules/generated/skylab-immich/nginx.nix", hostName: "immich.skylab.local", upstreamHost: "127.0.0.1", upstreamPort: 2283, clientMaxBodySize: "50000M" };
const V = 'NginxVhost "immich-vhost" (immich.skylab.local)';
const FIX = 'set `clientMaxBodySize` to "50000M" or more (stack config `nginx.clientMaxBodySize`).';

describe(NAME, () => {
  test("50000M passes", async () => {
    expect(await violations(policy, resourceArgs(VHOST, "immich-vhost", vhost))).toEqual([]);
  });

  test.each<[string]>([["50g"], ["51200000k"], ["0"], ["60000m"]])("%s passes", async (size) => {
    expect(await violations(policy, resourceArgs(VHOST, "immich-vhost", withField(vhost, "clientMaxBodySize", size)))).toEqual([]);
  });

  test.each<[string, string]>([
    ["10M", `${V} sets client_max_body_size to "10M", below 50000M: ${FIX}`],
    ["10m", `${V} sets client_max_body_size to "10m", below 50000M: ${FIX}`],
    ["48g", `${V} sets client_max_body_size to "48g", below 50000M: ${FIX}`],
    ["1048576", `${V} sets client_max_body_size to "1048576", below 50000M: ${FIX}`],
    ["50 GB", `${V} sets client_max_body_size to "50 GB", which is not an nginx size: ${FIX}`],
  ])("%s is a violation", async (size, expected) => {
    expect(await violations(policy, resourceArgs(VHOST, "immich-vhost", withField(vhost, "clientMaxBodySize", size)))).toEqual([expected]);
  });

  test("the minimum comes from the policy's config", async () => {
    const args = resourceArgs(VHOST, "immich-vhost", withField(vhost, "clientMaxBodySize", "10M"), { config: { minimum: "8m" } });
    expect(await violations(policy, args)).toEqual([]);
    const stricter = resourceArgs(VHOST, "immich-vhost", vhost, { config: { minimum: "100g" } });
    expect(await violations(policy, stricter)).toEqual([
      `${V} sets client_max_body_size to "50000M", below 100g: set \`clientMaxBodySize\` to "100g" or more (stack config \`nginx.clientMaxBodySize\`).`,
    ]);
  });

  test("a minimum that is not a size is refused", async () => {
    await expect(violations(policy, resourceArgs(VHOST, "immich-vhost", vhost, { config: { minimum: "lots" } }))).rejects.toThrow(
      `${NAME}: \`minimum\` must be an nginx size like "50000M" (got "lots")`,
    );
  });

  test.each<[string, number | undefined]>([["512", 512], ["1k", 1024], ["2K", 2048], ["3m", 3 * 1024 ** 2], ["4G", 4 * 1024 ** 3], ["1.5g", undefined], ["", undefined]])(
    "parseNginxSize(%j) is %s",
    (size, bytes) => {
      expect(parseNginxSize(size)).toBe(bytes);
    },
  );
});
