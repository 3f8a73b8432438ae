import { NAME, policy } from "../../policy/policies/skylab-storage-require-readonly-bind-mount";
import { bindMountModule } from "../../components/BindMount";
import { resourceArgs, urnOf, violations, withField } from "./harness";

const BIND = "skylab:storage:BindMount";
const MODULE = "skylab:nixos:NixModuleFile";
const SCRIPT = "pulumi-nodejs:dynamic/skylab:RemoteScript";
const bind = { configRepo: "/etc/nixos", modulePath: "modules/generated/skylab-immich/storage-media-immich.nix", source: "/home/zipang/Pictures/Digicam", mountPoint: "/media/immich" };
const moduleProps = { configRepo: "/etc/nixos", path: bind.modulePath, generator: "BindMount", body: bindMountModule(bind) };
const OPTIONS = ["body", "fileSystems", "/media/immich", "options"];

describe(NAME, () => {
  test("the default BindMount (readOnly unset) and its module pass", async () => {
    expect(await violations(policy, resourceArgs(BIND, "pictures-bind-mount", bind))).toEqual([]);
    expect(await violations(policy, resourceArgs(MODULE, "pictures-bind-mount-module", moduleProps))).toEqual([]);
  });

  test("readOnly true passes", async () => {
    expect(await violations(policy, resourceArgs(BIND, "pictures-bind-mount", withField(bind, "readOnly", true)))).toEqual([]);
  });

  test("readOnly false is a violation", async () => {
    expect(await violations(policy, resourceArgs(BIND, "pictures-bind-mount", withField(bind, "readOnly", false)))).toEqual([
      'Bind mount /media/immich of BindMount "pictures-bind-mount" (from /home/zipang/Pictures/Digicam) is writable: set `readOnly` to true, or leave it unset (the default is read-only).',
    ]);
  });

  test.each<[string, string[]]>([["bind", ["bind"]], ["rbind", ["rbind", "rw"]]])("a rendered %s mount without ro is a violation", async (_case, options) => {
    expect(await violations(policy, resourceArgs(MODULE, "pictures-bind-mount-module", withField(moduleProps, OPTIONS, options)))).toEqual([
      'Bind mount /media/immich in NixModuleFile "pictures-bind-mount-module" (modules/generated/skylab-immich/storage-media-immich.nix, from /home/zipang/Pictures/Digicam) is writable: add "ro" to its options (BindMount does unless `readOnly` is false).',
    ]);
  });

  test("rendered mounts that are not bind mounts are not checked", async () => {
    const body = { fileSystems: { "/var/lib/immich": { device: "/dev/disk/by-label/MEDIAS", fsType: "btrfs", options: ["subvol=@immich"] } } };
    expect(await violations(policy, resourceArgs(MODULE, "immich-data-mount-module", withField(moduleProps, "body", body)))).toEqual([]);
  });

  describe("the module a RemoteScript writes (its typed `module.body`)", () => {
    const script = { description: "NixOS module storage-media-immich.nix", module: { value: "CONTENT", generator: "BindMount", body: bindMountModule(bind) } };
    const writable = withField(script, ["module", ...OPTIONS], ["bind"]);

    test("built in user code (parent: the stack), a writable bind mount is a violation", async () => {
      expect(await violations(policy, resourceArgs(SCRIPT, "hand-made", writable))).toEqual([
        'Bind mount /media/immich in RemoteScript "hand-made" (NixOS module storage-media-immich.nix, from /home/zipang/Pictures/Digicam) is writable: add "ro" to its options (BindMount does unless `readOnly` is false).',
      ]);
    });

    test("built by a NixModuleFile, it is not reported twice (the module reports it)", async () => {
      const args = resourceArgs(SCRIPT, "pictures-bind-mount-module-file", writable, {
        parentTypes: [BIND, MODULE], opts: { parent: urnOf(MODULE, "pictures-bind-mount-module", [BIND]) },
      });
      expect(await violations(policy, args)).toEqual([]);
    });
  });
});
