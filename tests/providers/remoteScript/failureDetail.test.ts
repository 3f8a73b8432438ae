import { failureDetail } from "../../../providers/remoteScript/runtime";

test("a long Nix error is kept whole from its first error: line (the one naming the option)", () => {
  const definitions = Array.from({ length: 30 }, (_, i) => `         - In \`/etc/nixos/modules/m${i}.nix': ${i}`);
  const stderr = [
    "progress: plan: building",
    "plan (nixos-rebuild dry-activate):",
    "  building the system configuration...",
    "  error: The option `services.immich.port' has conflicting definition values:",
    ...definitions,
    "the configuration does not evaluate (see above)",
  ].join("\n");
  const detail = failureDetail(stderr);
  expect(detail.split("\n")[0]).toBe("  error: The option `services.immich.port' has conflicting definition values:");
  expect(detail.split("\n")).toHaveLength(32);
  expect(detail).not.toContain("progress:");
});

test("without an error: line, the last 15 lines", () => {
  const stderr = Array.from({ length: 40 }, (_, i) => `line ${i}`).join("\n");
  expect(failureDetail(stderr).split("\n")).toEqual(Array.from({ length: 15 }, (_, i) => `line ${i + 25}`));
});

test("an error: line within the last 15 lines changes nothing", () => {
  const stderr = ["a", "b", "error: x", "c"].join("\n");
  expect(failureDetail(stderr)).toBe("a\nb\nerror: x\nc");
});
