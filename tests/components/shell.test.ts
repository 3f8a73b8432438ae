import { readFileSync } from "fs";
import { join } from "path";
import { loadScript } from "../../components/shell";

const raw = (name: string) => readFileSync(join(__dirname, "..", "..", "components", "shell", name), "utf8");
const SHARED = readFileSync(join(__dirname, "..", "..", "lib", "remote", "lib.sh"), "utf8");

describe("loadScript (components/shell/)", () => {
  test("puts the shared functions right after the `set -euo pipefail` line, once", () => {
    const [head, tail] = raw("btrfs-subvolume.sh").split("set -euo pipefail\n");
    expect(loadScript("btrfs-subvolume.sh")).toBe(`${head}set -euo pipefail\n${SHARED}${tail}`);
  });

  test("function files named as libraries follow the shared functions, in order", () => {
    const [head, tail] = raw("nixos-apply.sh").split("set -euo pipefail\n");
    expect(loadScript("nixos-apply.sh", "verify-checks.sh")).toBe(`${head}set -euo pipefail\n${SHARED}${raw("verify-checks.sh")}${tail}`);
  });

  test("leaves function files without that line alone", () => {
    expect(loadScript("verify-checks.sh")).toBe(raw("verify-checks.sh"));
  });
});
