import { NAME, policy } from "../../policy/policies/skylab-storage-disallow-unguarded-data-deletion";
import { resourceArgs, urnOf, violations, withField } from "./harness";

const SUBVOLUME = "skylab:storage:BtrfsSubvolume";
const SCRIPT = "pulumi-nodejs:dynamic/skylab:RemoteScript";
const connection = { host: "10.231.1.2", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", privateKey: "KEY", become: "none" };
const component = { connection, mediasLabel: "MEDIAS", subvolume: "@immich", compression: "zstd", allowDataLoss: false };
const script = {
  connection,
  description: "btrfs subvolume @immich on MEDIAS",
  create: "set -euo pipefail",
  values: { MEDIAS_LABEL: "MEDIAS", SUBVOLUME: "@immich", COMPRESSION: "zstd", ALLOW_DATA_LOSS: "false" },
};
const inSubvolume = { parentTypes: [SUBVOLUME], opts: { parent: urnOf(SUBVOLUME, "immich-subvolume") } };
const allowing = (names: string[]) => ({ config: { allowDataLossFor: names } });

const COMPONENT_MESSAGE =
  'BtrfsSubvolume "immich-subvolume" has `allowDataLoss` set, so `pulumi destroy` would delete subvolume @immich on MEDIAS with all ' +
  'its data, but the policy pack config does not allow it: add "immich-subvolume" to `allowDataLossFor` of ' +
  `${NAME} in the policy pack config (--policy-pack-config) if that is intended, otherwise set \`allowDataLoss\` to false ` +
  "(stack config `storage.allowDataLoss`).";
const scriptMessage = (label: string, owner: string) =>
  `${label} runs with ALLOW_DATA_LOSS=true, so its delete script would delete the data on \`pulumi destroy\`, but the policy ` +
  `pack config does not allow it: add "${owner}" to \`allowDataLossFor\` of ${NAME} in the policy pack config ` +
  "(--policy-pack-config) if that is intended, otherwise set `allowDataLoss` to false (stack config `storage.allowDataLoss`).";

describe(NAME, () => {
  test("a subvolume that keeps its data passes, component and script", async () => {
    expect(await violations(policy, resourceArgs(SUBVOLUME, "immich-subvolume", component))).toEqual([]);
    expect(await violations(policy, resourceArgs(SCRIPT, "immich-subvolume-subvolume", script, inSubvolume))).toEqual([]);
  });

  test("allowDataLoss alone is a violation", async () => {
    expect(await violations(policy, resourceArgs(SUBVOLUME, "immich-subvolume", withField(component, "allowDataLoss", true)))).toEqual([COMPONENT_MESSAGE]);
  });

  test("allowDataLoss with the subvolume listed in the pack config passes", async () => {
    const args = resourceArgs(SUBVOLUME, "immich-subvolume", withField(component, "allowDataLoss", true), allowing(["immich-subvolume"]));
    expect(await violations(policy, args)).toEqual([]);
  });

  test("listing another subvolume does not allow this one", async () => {
    const args = resourceArgs(SUBVOLUME, "immich-subvolume", withField(component, "allowDataLoss", true), allowing(["scratch-subvolume"]));
    expect(await violations(policy, args)).toEqual([COMPONENT_MESSAGE]);
  });

  test("the script's ALLOW_DATA_LOSS is checked too, and the fix names the owning component", async () => {
    const args = resourceArgs(SCRIPT, "immich-subvolume-subvolume", withField(script, "values.ALLOW_DATA_LOSS", "true"), inSubvolume);
    expect(await violations(policy, args)).toEqual([scriptMessage('RemoteScript "immich-subvolume-subvolume"', "immich-subvolume")]);
  });

  test("the script passes when its owning component is listed", async () => {
    const args = resourceArgs(SCRIPT, "immich-subvolume-subvolume", withField(script, "values.ALLOW_DATA_LOSS", "true"), { ...inSubvolume, ...allowing(["immich-subvolume"]) });
    expect(await violations(policy, args)).toEqual([]);
  });

  test("a script built in user code (parent: the stack) names itself in the fix", async () => {
    const args = resourceArgs(SCRIPT, "wipe-subvolume", withField(script, "values.ALLOW_DATA_LOSS", "true"));
    expect(await violations(policy, args)).toEqual([scriptMessage('RemoteScript "wipe-subvolume"', "wipe-subvolume")]);
  });
});
