import { readFileSync } from "fs";
import { join } from "path";
import { engineInputs, loadScript } from "../../components/scripts";

const raw = (name: string) => readFileSync(join(__dirname, "..", "..", "components", "scripts", name), "utf8");

describe("loadScript", () => {
  test("puts the shared functions right after the `set -euo pipefail` line, once", () => {
    const text = raw("btrfs-subvolume.sh");
    const [head, tail] = text.split("set -euo pipefail\n");
    expect(loadScript("btrfs-subvolume.sh")).toBe(`${head}set -euo pipefail\n${raw("lib.sh")}${tail}`);
  });

  test("function files named as libraries follow the shared functions, in order", () => {
    const text = raw("nixos-apply.sh");
    const [head, tail] = text.split("set -euo pipefail\n");
    expect(loadScript("nixos-apply.sh", "verify-checks.sh")).toBe(`${head}set -euo pipefail\n${raw("lib.sh")}${raw("verify-checks.sh")}${tail}`);
  });

  test("leaves function files without that line alone", () => {
    expect(loadScript("verify-checks.sh")).toBe(raw("verify-checks.sh"));
  });
});

describe("engineInputs", () => {
  test("drops what the host look found and keeps the declared args", () => {
    expect(engineInputs({ a: 1, drift: "x", valueDrift: "y", hostSha256: null })).toStrictEqual({ a: 1 });
  });
});
