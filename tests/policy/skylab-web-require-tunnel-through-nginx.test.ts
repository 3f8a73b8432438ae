import { createPolicy, NAME, parseOrigin } from "../../policy/policies/skylab-web-require-tunnel-through-nginx";
import { resourceArgs, stackViolations, urnOf, violations, withField } from "./harness";

const TUNNEL = "skylab:web:CloudflareTunnel";
const VHOST = "skylab:web:NginxVhost";
const IMMICH = "skylab:apps:ImmichModule";
const tunnel = {
  configRepo: "/etc/nixos", modulePath: "modules/generated/skylab-immich/cloudflared.nix", tunnelId: "6ff42ae2-765d-4adf-8112-31c55c1551ef",
  publicHostName: "photos.example.com", origin: "http://127.0.0.1:80", sopsFile: "secrets/secrets.yaml", credentialsKey: "cloudflared/credentials",
};
const vhost = {
  configRepo: "/etc/nixos", modulePath: "modules/generated/skylab-immich/nginx.nix", hostName: "immich.skylab.local", upstreamHost: "127.0.0.1",
  upstreamPort: 2283, clientMaxBodySize: "50000M", serverAliases: ["photos.example.com"],
};
const immich = { configRepo: "/etc/nixos", modulePath: "modules/generated/skylab-immich/immich.nix", host: "127.0.0.1", port: 2283 };
const TUNNEL_URN = urnOf(TUNNEL, "cloudflare-tunnel");
const T = 'CloudflareTunnel "cloudflare-tunnel" (photos.example.com)';
const FIX = "set its origin to http://127.0.0.1:80 (nginx).";
const NO_VHOST =
  `${T}: no NginxVhost answers photos.example.com, so nginx serves the tunnel's requests from another server block: ` +
  "add it to the vhost's `serverAliases` (the program does so when `tunnel.enabled` is true).";

/** Runs the policy the way the engine does: every resource through validateResource, then the stack. */
async function run(t: Record<string, unknown>, v: Record<string, unknown> = vhost) {
  const policy = createPolicy();
  for (const [type, name, props] of [[IMMICH, "immich", immich], [VHOST, "immich-vhost", v], [TUNNEL, "cloudflare-tunnel", t]] as const) {
    expect(await violations(policy, resourceArgs(type, name, props))).toEqual([]);
  }
  return stackViolations(policy);
}

describe(NAME, () => {
  test("the baseline passes: the tunnel to nginx on 127.0.0.1:80, the vhost answering the public name", async () => {
    expect(await run(tunnel)).toEqual([]);
  });

  test.each<[string]>([["http://127.0.0.1"], ["http://[::1]:80"], ["http://127.0.0.2:80/"]])("origin %s passes", async (origin) => {
    expect(await run(withField(tunnel, "origin", origin))).toEqual([]);
  });

  test("no tunnel: nothing to judge", async () => {
    const policy = createPolicy();
    await violations(policy, resourceArgs(VHOST, "immich-vhost", withField(vhost, "serverAliases", undefined)));
    expect(await stackViolations(policy)).toEqual([]);
  });

  test.each<[string, string, string]>([
    ["Immich's port", "http://127.0.0.1:2283",
      `${T} sends its public host name to http://127.0.0.1:2283, Immich's own port 127.0.0.1:2283: requests from the internet would skip nginx (its upload size, timeouts and headers): ${FIX}`],
    ["Immich's port by another loopback address", "http://[::1]:2283",
      `${T} sends its public host name to http://[::1]:2283, Immich's own port 127.0.0.1:2283: requests from the internet would skip nginx (its upload size, timeouts and headers): ${FIX}`],
    ["another port", "http://127.0.0.1:8080", `${T} sends its public host name to "http://127.0.0.1:8080", which is not nginx on this host: ${FIX}`],
    ["https", "https://127.0.0.1:80", `${T} sends its public host name to "https://127.0.0.1:80", which is not nginx on this host: ${FIX}`],
    ["a name, not an address", "http://localhost:80", `${T} sends its public host name to "http://localhost:80", which is not nginx on this host: ${FIX}`],
    ["another host", "http://192.168.1.20:80", `${T} sends its public host name to "http://192.168.1.20:80", which is not nginx on this host: ${FIX}`],
    ["not a URL", "hello_world", `${T} sends its public host name to "hello_world", which is not nginx on this host: ${FIX}`],
  ])("origin: %s is a violation", async (_case, origin, message) => {
    expect(await run(withField(tunnel, "origin", origin))).toEqual([[message, TUNNEL_URN]]);
  });

  test("no vhost answering the public name is a violation", async () => {
    expect(await run(tunnel, withField(vhost, "serverAliases", undefined))).toEqual([[NO_VHOST, TUNNEL_URN]]);
  });

  test("the public name as the vhost's own host name passes", async () => {
    expect(await run(tunnel, withField(withField(vhost, "serverAliases", undefined), "hostName", "photos.example.com"))).toEqual([]);
  });

  test.each<[string, ReturnType<typeof parseOrigin>]>([
    ["http://127.0.0.1", { scheme: "http", host: "127.0.0.1", port: 80 }],
    ["https://[::1]", { scheme: "https", host: "::1", port: 443 }],
    ["http://127.0.0.1:2283/", { scheme: "http", host: "127.0.0.1", port: 2283 }],
    ["tcp://127.0.0.1:22", undefined],
    ["http_status:404", undefined],
  ])("parseOrigin(%j)", (origin, parsed) => {
    expect(parseOrigin(origin)).toStrictEqual(parsed);
  });
});
