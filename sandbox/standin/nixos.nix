# NixOS' own evaluation of a configuration, for the sandbox's nixos-rebuild stand-in: the REAL nixpkgs module
# system and the real NixOS modules the program configures, from the pinned subset of nixpkgs installed beside
# the stand-in (`nixpkgs-oracle`, see sandbox/README.md "The nixos-rebuild stand-in"). Option names, types,
# conflicts, assertions and their wording are NixOS', and so are the unit files, fstab and tmpfiles rules it
# renders. The subset has stubs for the rest of NixOS (systemd.nix itself, users, postgresql, redis, packages);
# `nixos-extra.nix` beside this file declares the few namespaces a SKYLAB configuration sets that the subset
# does not know (freeform, unchecked).
#
# Usage: nix-instantiate --eval --strict --json --readonly-mode nixos.nix --arg oracle PATH --argstr configFile FILE
{ oracle, configFile }:
let
  inherit (import ./nixos-eval.nix { inherit oracle; configuration = /. + configFile; }) lib eval;
  cfg = eval.config;
  enabled = lib.filterAttrs (_: s: s.enable) cfg.systemd.services;
  result = {
    failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) cfg.assertions);
    warnings = cfg.warnings;
    # Every service the configuration runs, as the unit file NixOS writes for it.
    units = lib.mapAttrs' (name: _: lib.nameValuePair "${name}.service" cfg.systemd.units."${name}.service".text) enabled;
    fstab = cfg.environment.etc.fstab.text;
    tmpfiles = { rules = cfg.systemd.tmpfiles.rules; settings = cfg.systemd.tmpfiles.settings; };
    # The system users and groups the modules declare (nixpkgs creates them at activation).
    users = lib.mapAttrs (_: u: { group = u.group or ""; isSystemUser = u.isSystemUser or false; })
      (lib.filterAttrs (_: u: builtins.isAttrs u) cfg.users.users or { });
    groups = lib.attrNames (cfg.users.groups or { });
  };
  # What a build reads besides the result: sops-nix's manifest (every secret and template with its owner,
  # mode, key and path) and every fileSystems entry. Forced, so a wrong type there fails as the build would.
  builtValues = [ cfg.sops.secrets cfg.sops.templates cfg.fileSystems ];
in
builtins.deepSeq builtValues (builtins.deepSeq result result)
