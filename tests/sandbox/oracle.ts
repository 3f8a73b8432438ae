/**
 * The pinned subset of the real nixpkgs (module system, the NixOS modules the program configures, sops-nix)
 * that the sandbox's nixos-rebuild stand-in evaluates with: SKYLAB_NIXPKGS_ORACLE, else
 * ../shared/nixpkgs-oracle beside the repository (sandbox/README.md). Not part of the repository; a test that
 * needs it fails, with this message, when it is missing: it is never skipped.
 */
import { spawnSync } from "child_process";
import { existsSync } from "fs";
import path from "path";

export const REPO_ROOT = path.resolve(__dirname, "../..");

export function nixpkgsOracle(): string {
  const oracle = path.resolve(process.env.SKYLAB_NIXPKGS_ORACLE ?? path.join(REPO_ROOT, "../shared/nixpkgs-oracle"));
  if (!existsSync(path.join(oracle, "check.nix")) || !existsSync(path.join(oracle, "lib/default.nix"))) {
    throw new Error(
      `the pinned nixpkgs subset is missing: no check.nix and lib/ in ${oracle}. ` +
        "Put it at ../shared/nixpkgs-oracle beside the repository or set SKYLAB_NIXPKGS_ORACLE to its folder.",
    );
  }
  return oracle;
}

export interface NixosEvaluation {
  code: number;
  stdout: string;
  stderr: string;
}

/** sandbox/standin/nixos.nix (NixOS' own evaluation, as the stand-in runs it) over a configuration file. */
export function evaluateNixos(configFile: string): NixosEvaluation {
  const result = spawnSync(
    "nix-instantiate",
    [
      "--eval", "--strict", "--json", "--readonly-mode", path.join(REPO_ROOT, "sandbox/standin/nixos.nix"),
      "--arg", "oracle", nixpkgsOracle(), "--argstr", "configFile", configFile,
    ],
    { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
  );
  if (result.error) throw result.error;
  return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}
