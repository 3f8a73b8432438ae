# `<nixpkgs/nixos>` of the sandbox's root channel (/nix/var/nix/profiles/per-user/root/channels/nixos, where
# NixOS keeps it): `import <nixpkgs/nixos> { configuration = ...; }` gives { config, options } as nixpkgs'
# nixos/default.nix does, evaluated by the real module system of the pinned subset (../../nixos-eval.nix).
# `system` and the rest of what the real one gives are not here: nothing is built in the sandbox.
{ configuration ? import <nixos-config> }:
let
  inherit (import /usr/local/lib/nixos-rebuild-standin/nixos-eval.nix {
    oracle = /usr/local/lib/nixos-rebuild-standin/nixpkgs-oracle;
    inherit configuration;
  }) eval;
in
{ inherit (eval) config options; }
