import { NAME, policy } from "../../policy/policies/skylab-storage-disallow-unguarded-data-deletion";
import { resourceArgs, violations, withField } from "./harness";

const SUBVOLUME = "skylab:storage:BtrfsSubvolume";
const connection = { host: "10.231.1.2", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", privateKey: "KEY", become: "none" };
const component = { connection, mediasLabel: "MEDIAS", subvolume: "@immich", compression: "zstd", allowDataLoss: false };
const allowing = (names: string[]) => ({ config: { allowDataLossFor: names } });

const COMPONENT_MESSAGE =
  'BtrfsSubvolume "immich-subvolume" has `allowDataLoss` set, so `pulumi destroy` would delete subvolume @immich on MEDIAS with all ' +
  'its data, but the policy pack config does not allow it: add "immich-subvolume" to `allowDataLossFor` of ' +
  `${NAME} in the policy pack config (--policy-pack-config) if that is intended, otherwise set \`allowDataLoss\` to false ` +
  "(stack config `storage.allowDataLoss`).";

describe(NAME, () => {
  test("a subvolume that keeps its data passes", async () => {
    expect(await violations(policy, resourceArgs(SUBVOLUME, "immich-subvolume", component))).toEqual([]);
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
});
