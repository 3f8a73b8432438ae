/**
 * The policy pack under the real engine, against a sandbox SKYLAB: mandatory violations stop preview and up
 * before anything changes, the compliant stack passes (so the pack loaded and checked), advisories print
 * without blocking, and the remediation, when the pack config enables it, fixes the module's typed body on a
 * host converged without noatime: the file written is that body's rendering and the live mount gets noatime.
 */
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { sandboxDown, sandboxSsh, sandboxUp } from "../../sandbox/index";
import { configureSandboxStack, importGeneratedModules, PulumiResult, runPulumi } from "../../sandbox/stack";
import { fileSystemModule } from "../../components/FileSystemMount";
import { renderModule } from "../../lib/nix";
import { expectNoChanges } from "../e2e/helpers";

const SANDBOX = "pol1";
const STACK = "sandbox-pol1";
const BTRFS_POLICY = "skylab-storage-enforce-btrfs-mount-options";
const PACK = ["--policy-pack", "policy"];

let workDir: string;

async function preview(extra: string[] = []): Promise<PulumiResult> {
  return runPulumi(["preview", "--stack", STACK, ...PACK, ...extra]);
}

async function host(command: string): Promise<string> {
  const result = await sandboxSsh(SANDBOX, command);
  if (result.code !== 0) throw new Error(`${command} failed on the sandbox: ${result.stderr}`);
  return result.stdout;
}

/** What `up` would have changed first: the subvolume, the generated modules and the mount. */
async function untouched(): Promise<string> {
  return host(
    "btrfs subvolume list /mnt/medias | grep -c '@immich$' || true; " +
      "test -e /etc/nixos/modules/generated/skylab-immich && echo generated || echo no-generated; " +
      "findmnt -no OPTIONS /var/lib/immich || echo not-mounted",
  );
}

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), "skylab-policy-"));
  await sandboxUp(SANDBOX);
  await importGeneratedModules(SANDBOX);
});

afterAll(async () => {
  try {
    await runPulumi(["destroy", "--yes", "--stack", STACK]);
    await runPulumi(["stack", "rm", "--force", "--yes", "--stack", STACK]);
  } finally {
    await sandboxDown(SANDBOX);
    rmSync(workDir, { recursive: true, force: true });
  }
});

describe("policy pack under the real engine", () => {
  test("the compliant stack previews with the pack and no violation", async () => {
    await configureSandboxStack(SANDBOX, STACK);
    const result = await preview();
    expect(result.code).toBe(0);
    expect(result.output).toContain("✅ skylab-immich@v0.1.0 (local: policy)");
    expect(result.output).not.toMatch(/\[(mandatory|advisory|remediate)\]/);
  });

  test("a data mount without noatime fails preview and up, naming the resource and the policy, and nothing changes", async () => {
    await configureSandboxStack(SANDBOX, STACK, { config: { storage: { mountOptions: [] } } });
    const before = await untouched();
    expect(before).toBe("0\nno-generated\nnot-mounted\n");

    const result = await preview();
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`[mandatory]  ${BTRFS_POLICY}  (skylab:storage:FileSystemMount: immich-data-mount)`);
    expect(result.output).toContain(
      'BTRFS mount /var/lib/immich of FileSystemMount "immich-data-mount" lacks "noatime": add "noatime" to its options (stack config `storage.mountOptions`).',
    );
    expect(result.output).toContain(`[mandatory]  ${BTRFS_POLICY}  (skylab:nixos:NixModuleFile: immich-data-mount-module)`);

    const up = await runPulumi(["up", "--yes", "--stack", STACK, ...PACK]);
    expect(up.code).not.toBe(0);
    expect(up.output).toContain(`[mandatory]  ${BTRFS_POLICY}  (skylab:storage:FileSystemMount: immich-data-mount)`);
    expect(await untouched()).toBe(before);
  });

  test("compression lzo fails preview, naming the resource and the policy", async () => {
    await configureSandboxStack(SANDBOX, STACK, { config: { storage: { compression: "lzo" } } });
    const result = await preview();
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`[mandatory]  ${BTRFS_POLICY}  (skylab:storage:FileSystemMount: immich-data-mount)`);
    expect(result.output).toContain(
      'BTRFS mount /var/lib/immich of FileSystemMount "immich-data-mount" has "compress=lzo", which compresses with lzo instead of zstd: replace it with "compress=zstd" (stack config `storage.compression`).',
    );
  });

  test("an advisory violation (a 10M upload limit) prints but does not block", async () => {
    await configureSandboxStack(SANDBOX, STACK, { config: { nginx: { clientMaxBodySize: "10M" } } });
    const result = await preview();
    expect(result.code).toBe(0);
    expect(result.output).toContain("[advisory]  skylab-web-require-large-upload-size  (skylab:web:NginxVhost: immich-vhost)");
    expect(result.output).toContain(
      'NginxVhost "immich-vhost" (immich.skylab.local) sets client_max_body_size to "10M", below 50000M: set `clientMaxBodySize` to "50000M" or more (stack config `nginx.clientMaxBodySize`).',
    );
    expect(result.output).not.toContain("[mandatory]");
  });

  test("allowDataLoss without the pack's permission fails preview, naming the subvolume and the setting", async () => {
    await configureSandboxStack(SANDBOX, STACK, { config: { storage: { allowDataLoss: true } } });
    const result = await preview();
    expect(result.code).not.toBe(0);
    expect(result.output).toContain("[mandatory]  skylab-storage-disallow-unguarded-data-deletion  (skylab:storage:BtrfsSubvolume: immich-subvolume)");
    expect(result.output).toContain(
      'BtrfsSubvolume "immich-subvolume" has `allowDataLoss` set, so `pulumi destroy` would delete subvolume @immich on MEDIAS with all its data',
    );
    expect(await untouched()).toBe("0\nno-generated\nnot-mounted\n");
  });

  test("Immich bound to all addresses behind nginx: the stack-level loopback policy judges after every resource, advisory", async () => {
    await configureSandboxStack(SANDBOX, STACK, { config: { immich: { host: "0.0.0.0" } } });
    const result = await preview();
    expect(result.code).toBe(0);
    expect(result.output).toContain("[advisory]  skylab-apps-require-loopback-binding");
    expect(result.output).toContain(
      'ImmichModule "immich" listens on 0.0.0.0:2283 while NginxVhost "immich-vhost" (immich.skylab.local) fronts it, and it is reachable from the network without going through nginx: set its host to "127.0.0.1" (stack config `immich.host`).',
    );
    expect(result.output).not.toContain("[mandatory]");
  });

  test("with the btrfs policy set to remediate, up on a host converged without noatime remounts the data with noatime", async () => {
    await configureSandboxStack(SANDBOX, STACK, { config: { storage: { mountOptions: [] } } });
    const packConfig = path.join(workDir, "remediate.json");
    writeFileSync(packConfig, JSON.stringify({ [BTRFS_POLICY]: "remediate" }));
    const modulePath = "/etc/nixos/modules/generated/skylab-immich/storage-var-lib-immich.nix";
    const moduleFor = (options: string[]) => renderModule({
      generator: "FileSystemMount",
      body: fileSystemModule({
        mountPoint: "/var/lib/immich", device: "/dev/disk/by-label/MEDIAS", fsType: "btrfs", options,
        ownership: { user: "immich", group: "immich", mode: "0700" },
      }),
    });
    // Converged without the pack: the module and the live mount lack noatime.
    const converge = await runPulumi(["up", "--yes", "--stack", STACK]);
    expect(converge.code).toBe(0);
    expect(await host(`cat ${modulePath}`)).toBe(moduleFor(["subvol=@immich", "compress=zstd"]));
    expect((await host("findmnt -no OPTIONS /var/lib/immich")).trim().split(",")).not.toContain("noatime");

    const up = await runPulumi(["up", "--yes", "--stack", STACK, ...PACK, "--policy-pack-config", packConfig]);
    expect(up.code).toBe(0);
    // The typed properties: FileSystemMount `options`, NixModuleFile `body`, its RemoteScript's `module.body`.
    expect(up.output).toContain(`[remediate]  ${BTRFS_POLICY}  (3 resources)`);
    // The provider wrote the rendering of the remediated body, and the rebuild ran again for it (the module's
    // digest comes from the body the script wrote), so the live mount has noatime.
    expect(await host(`cat ${modulePath}`)).toBe(moduleFor(["subvol=@immich", "compress=zstd", "noatime"]));
    expect((await host("findmnt -no OPTIONS /var/lib/immich")).trim().split(",")).toContain("noatime");
    // Drift is judged by the same rendering: remediating again, the next preview has nothing to do.
    expectNoChanges(await preview(["--policy-pack-config", packConfig]));
  });
});

describe("policies the validated config cannot reach, on components built directly", () => {
  const fixture = path.join(__dirname, "fixture-violations");
  let home: string;
  let backend: string;
  const env = () => ({ PULUMI_HOME: home, PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "policy-test" });

  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), "skylab-policy-home-"));
    backend = mkdtempSync(path.join(tmpdir(), "skylab-policy-state-"));
    const init = await runPulumi(["stack", "init", "violations"], { cwd: fixture, env: env() });
    expect(init.output).toContain("Created stack 'violations'");
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(backend, { recursive: true, force: true });
    rmSync(path.join(fixture, "Pulumi.violations.yaml"), { force: true });
  });

  test("an unpinned host key and a password in script values block the preview; a writable bind mount is advised against", async () => {
    const result = await runPulumi(["preview", "--stack", "violations", "--policy-pack", path.resolve(__dirname, "../../policy")], {
      cwd: fixture, env: env(),
    });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain("[mandatory]  skylab-connection-require-pinned-host-key  (pulumi-nodejs:dynamic/skylab:RemoteScript: unpinned)");
    expect(result.output).toContain('RemoteScript "unpinned" connects to 127.0.0.1 without a pinned host key: set `connection.hostKey`;');
    expect(result.output).toContain("[mandatory]  skylab-secrets-require-secret-values  (pulumi-nodejs:dynamic/skylab:RemoteScript: leaky)");
    expect(result.output).toContain('RemoteScript "leaky" passes `values.DB_PASSWORD`, which names a secret, in the script\'s preamble');
    expect(result.output).toContain("[advisory]  skylab-storage-require-readonly-bind-mount  (skylab:storage:BindMount: writable)");
    expect(result.output).toContain('Bind mount /media/writable of BindMount "writable" (from /home/zipang/Pictures/Digicam) is writable:');
    // ...and on the module it generates, from its typed body.
    expect(result.output).toContain("[advisory]  skylab-storage-require-readonly-bind-mount  (skylab:nixos:NixModuleFile: writable-module)");
    // The pinned, secret-free script is judged too, and passes: only the two above are mandatory violations.
    expect(result.output.match(/\[mandatory\]/g)?.length).toBe(2);
  }, 120_000);
});
