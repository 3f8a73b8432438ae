/**
 * A flake-shaped configuration repo (flake.nix with nixosConfigurations.skylab built from the same
 * modules): the apply passes `--flake`, the stand-in evaluates the flake's configuration with its inputs
 * stood in (no network) and sees only git-tracked files, as a flake does.
 */
import { Target, expectNoChanges, expectSuccess, hostState } from "./helpers";

const target = new Target("flake1");

const state = () => hostState(target);

beforeAll(async () => {
  await target.create({ sandbox: { flake: true } });
});

afterAll(async () => {
  await target.destroy();
});

test("up converges a flake-shaped repo through `nixos-rebuild --flake`, every verification check passing", async () => {
  expectSuccess(await target.up());
  const calls = (await target.ssh("jq -c .args /var/log/nixos-rebuild-standin.log")).trim().split("\n");
  expect(calls).toContain('["dry-activate","--flake","/etc/nixos"]');
  expect(calls).toContain('["test","--flake","/etc/nixos"]');
  expect(calls).toContain('["boot","--flake","/etc/nixos"]');
  const report = JSON.parse((await target.pulumi(["stack", "output", "verification", "--json"])).stdout) as { status: string }[];
  expect(report.map((r) => r.status)).toEqual(Array(13).fill("pass"));
  expect((await target.ssh("findmnt -rn -o FSROOT /var/lib/immich")).trim()).toBe("/@immich");
  expectNoChanges(await target.up());
}, 300_000);

test("a failed activation of the flake's configuration restores the host and the repo", async () => {
  const before = await state();
  await target.reconfigure({ config: { nginx: { clientMaxBodySize: "60000M" } } });
  await target.ssh("touch /etc/nixos-rebuild-standin/fail-next-activation");
  const failed = await target.up();
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain("activation failed (nixos-rebuild test exited 2); the host was restored");
  expect(await state()).toEqual(before);
  expectSuccess(await target.up());
}, 300_000);

test("a file the flake's git does not track is invisible to it, as on NixOS", async () => {
  await target.ssh(
    "cd /etc/nixos && printf '{ ... }: { }\\n' > modules/untracked.nix && " +
      "sed -i 's#./modules/services/immich.nix#./modules/services/immich.nix ./modules/untracked.nix#' configuration.nix",
  );
  const result = await target.sshResult("nixos-rebuild dry-activate --flake /etc/nixos");
  expect(result.code).toBe(1);
  expect(result.stderr).toContain("modules/untracked.nix': No such file or directory");
  await target.ssh("cd /etc/nixos && git add -N modules/untracked.nix");
  expect((await target.sshResult("nixos-rebuild dry-activate --flake /etc/nixos")).code).toBe(0);
  await target.ssh("cd /etc/nixos && git rm -q --cached modules/untracked.nix && rm modules/untracked.nix && git checkout -q configuration.nix");
});
