# The root module of a flake-shaped configuration, for the sandbox's nixos-rebuild stand-in.
#
# `nixos-rebuild --flake REPO#HOST` on NixOS fetches the flake's inputs (nixpkgs, sops-nix, ...) and
# evaluates `nixosConfigurations.HOST`. There is no network here, so the inputs are stand-ins:
# `nixpkgs.lib.nixosSystem { modules = [...]; }` only collects its modules (which eval.nix then
# evaluates), and every other input is a set whose `nixosModules.*` are empty modules (sops-nix's options
# are built into eval.nix). `specialArgs` and `system` are accepted and ignored. The stand-in copies the
# repo's git-tracked files to SRC first, as a flake sees only those.
{ src, host }:
let
  lib = import ./lib.nix;
  flake = import (src + "/flake.nix");
  inputNames = builtins.attrNames (flake.inputs or { });
  emptyModules = { default = { }; sops = { }; };
  inputStub = name: {
    outPath = "/nix/store/00000000000000000000000000000000-${name}-source";
    nixosModules = emptyModules;
    lib = standinLib;
  };
  standinLib = lib // {
    nixosSystem = args: { _standinModules = args.modules or [ ]; };
  };
  inputs = builtins.listToAttrs (map (name: { inherit name; value = inputStub name; }) inputNames)
    // { nixpkgs = inputStub "nixpkgs"; self = { outPath = src; }; };
  outputs = flake.outputs inputs;
  configurations = outputs.nixosConfigurations or (throw "error: flake '${src}' does not provide attribute 'nixosConfigurations'");
  system = configurations.${host} or (throw "error: flake does not provide attribute 'nixosConfigurations.${host}'");
in
{ imports = system._standinModules; }
