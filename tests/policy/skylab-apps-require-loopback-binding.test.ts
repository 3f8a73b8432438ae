import { createPolicy, NAME } from "../../policy/policies/skylab-apps-require-loopback-binding";
import { isLoopbackAddress } from "../../policy/lib/addresses";
import { resourceArgs, stackViolations, urnOf, violations, withField } from "./harness";

const IMMICH = "skylab:apps:ImmichModule";
const VHOST = "skylab:web:NginxVhost";
const immich = { configRepo: "/etc/nixos", modulePath: "modules/generated/skylab-immich/immich.nix", host: "127.0.0.1", port: 2283, mediaLocation: "/var/lib/immich", user: "immich", group: "immich" };
const vhost = { configRepo: "/etc/nixos", modulePath: "modules/generated/skylab-immich/nginx.nix", hostName: "immich.skylab.local", upstreamHost: "127.0.0.1", upstreamPort: 2283, clientMaxBodySize: "50000M" };
const IMMICH_URN = urnOf(IMMICH, "immich");
const VHOST_URN = urnOf(VHOST, "immich-vhost");

/** Runs the policy the way the engine does: every resource through validateResource, then the stack. */
async function run(resources: [string, string, Record<string, unknown>][]) {
  const policy = createPolicy();
  for (const [type, name, props] of resources) {
    expect(await violations(policy, resourceArgs(type, name, props))).toEqual([]);
  }
  return stackViolations(policy);
}

const FRONTED = 'while NginxVhost "immich-vhost" (immich.skylab.local) fronts it';

describe(NAME, () => {
  test("Immich on 127.0.0.1 behind a vhost proxying to it passes", async () => {
    expect(await run([[IMMICH, "immich", immich], [VHOST, "immich-vhost", vhost]])).toEqual([]);
  });

  test.each<[string, string, [string, string][]]>([
    ["localhost", "localhost", [
      [`ImmichModule "immich" listens on localhost:2283 ${FRONTED}, and "localhost" resolves to ::1 or 127.0.0.1 depending on the resolver, and nginx then fails with 502 (nixpkgs #387934): set its host to "127.0.0.1" (stack config \`immich.host\`).`, IMMICH_URN],
      ['NginxVhost "immich-vhost" (immich.skylab.local) proxies to 127.0.0.1:2283, but Immich listens on localhost:2283: set its upstream to localhost:2283, the address Immich binds to.', VHOST_URN],
    ]],
    ["all addresses", "0.0.0.0", [
      [`ImmichModule "immich" listens on 0.0.0.0:2283 ${FRONTED}, and it is reachable from the network without going through nginx: set its host to "127.0.0.1" (stack config \`immich.host\`).`, IMMICH_URN],
      ['NginxVhost "immich-vhost" (immich.skylab.local) proxies to 127.0.0.1:2283, but Immich listens on 0.0.0.0:2283: set its upstream to 0.0.0.0:2283, the address Immich binds to.', VHOST_URN],
    ]],
  ])("Immich on %s is a violation", async (_case, host, expected) => {
    expect(await run([[IMMICH, "immich", withField(immich, "host", host)], [VHOST, "immich-vhost", vhost]])).toEqual(expected);
  });

  test("a vhost proxying to another port is a violation", async () => {
    expect(await run([[IMMICH, "immich", immich], [VHOST, "immich-vhost", withField(vhost, "upstreamPort", 3000)]])).toEqual([
      ['NginxVhost "immich-vhost" (immich.skylab.local) proxies to 127.0.0.1:3000, but Immich listens on 127.0.0.1:2283: set its upstream to 127.0.0.1:2283, the address Immich binds to.', VHOST_URN],
    ]);
  });

  test("a vhost proxying to another loopback address than Immich's is a violation", async () => {
    expect(await run([[IMMICH, "immich", immich], [VHOST, "immich-vhost", withField(vhost, "upstreamHost", "127.0.0.2")]])).toEqual([
      ['NginxVhost "immich-vhost" (immich.skylab.local) proxies to 127.0.0.2:2283, but Immich listens on 127.0.0.1:2283: set its upstream to 127.0.0.1:2283, the address Immich binds to.', VHOST_URN],
    ]);
  });

  test("Immich on ::1 with a vhost proxying to it passes", async () => {
    expect(await run([[IMMICH, "immich", withField(immich, "host", "::1")], [VHOST, "immich-vhost", withField(vhost, "upstreamHost", "::1")]])).toEqual([]);
  });

  test("without a vhost, Immich may listen on the network", async () => {
    expect(await run([[IMMICH, "immich", withField(immich, "host", "0.0.0.0")]])).toEqual([]);
  });

  test("a vhost without Immich in the stack is a violation", async () => {
    expect(await run([[VHOST, "immich-vhost", vhost]])).toEqual([
      ['NginxVhost "immich-vhost" (immich.skylab.local) proxies to 127.0.0.1:2283, but the stack has no Immich: remove the vhost or add the ImmichModule it fronts.', VHOST_URN],
    ]);
  });

  test.each<[string, boolean]>([
    ["127.0.0.1", true], ["127.8.9.10", true], ["::1", true], ["0:0:0:0:0:0:0:1", true], ["[::1]", true], ["::ffff:127.0.0.1", true],
    ["localhost", false], ["128.0.0.1", false], ["10.0.0.1", false], ["::", false], ["1::", false], ["::1:0", false], ["fe80::1", false], ["0.0.0.0", false],
  ])("isLoopbackAddress(%s) is %s", (host, expected) => {
    expect(isLoopbackAddress(host)).toBe(expected);
  });
});
