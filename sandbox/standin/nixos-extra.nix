# Namespaces a SKYLAB configuration sets that the pinned nixpkgs subset does not declare (their modules are not
# in it): declared freeform here, so they are accepted and NOT checked. Listed in sandbox/README.md.
{ lib, ... }:
let
  freeform = lib.mkOption { type = lib.types.submodule { freeformType = lib.types.attrsOf lib.types.anything; }; default = { }; };
in
{
  options = {
    time = freeform; # nixos/modules/config/locale.nix
    i18n = freeform; # nixos/modules/config/i18n.nix
    console = freeform; # nixos/modules/config/console.nix
    nix = freeform; # nixos/modules/config/nix.nix
    nixpkgs = freeform; # nixos/modules/misc/nixpkgs.nix
    hardware = freeform; # nixos/modules/hardware/*
    programs = freeform; # nixos/modules/programs/*
    virtualisation = freeform; # nixos/modules/virtualisation/*
  };
}
