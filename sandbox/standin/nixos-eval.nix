# The sandbox's NixOS: the REAL nixpkgs module system evaluating the real NixOS modules of the pinned subset
# (`oracle`, see sandbox/README.md) with its stubs for the rest, plus nixos-extra.nix, over `configuration`.
# Returns { lib, eval } (eval: lib.evalModules' result, with config and options). Used by nixos.nix (the
# stand-in's build) and by the channel's nixos/default.nix (`import <nixpkgs/nixos> { configuration; }`).
{ oracle, configuration }:
let
  # lib.mdDoc is gone from current lib; the subset's vhost-options.nix still calls it (identity upstream).
  lib = (import (oracle + "/lib")).extend (self: super: { mdDoc = super.mdDoc or (x: x); });
in
{
  inherit lib;
  eval = lib.evalModules {
    modules = [
      (oracle + "/nixos/modules/misc/assertions.nix")
      (oracle + "/nixos/modules/tasks/filesystems.nix")
      (oracle + "/nixos/modules/services/web-apps/immich.nix")
      (oracle + "/nixos/modules/services/web-apps/immich-public-proxy.nix")
      (oracle + "/nixos/modules/services/web-servers/nginx/default.nix")
      (oracle + "/nixos/modules/services/networking/cloudflared.nix")
      (oracle + "/sops-nix/modules/sops")
      (oracle + "/stubs/systemd.nix")
      (oracle + "/stubs/other.nix")
      (oracle + "/stubs/stage-1-fs.nix")
      ./nixos-extra.nix
      { _module.args.pkgs = import (oracle + "/stubs/pkgs.nix") { inherit lib; captureNginx = false; }; }
      configuration
    ];
  };
}
