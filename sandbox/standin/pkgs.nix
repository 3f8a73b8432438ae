# Stand-ins for the few packages a SKYLAB module refers to. They evaluate to fake store paths so
# that `"${pkgs.immich}/bin/..."` and `environment.systemPackages = [ pkgs.git ]` evaluate; nothing
# is built. A name missing here fails evaluation, which is what an unknown attribute does on NixOS.
{ lib }:
let
  stub = name: {
    type = "derivation";
    inherit name;
    pname = name;
    version = "standin";
    outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" name)}-${name}";
    outputs = [ "out" ];
  };
  names = [
    "age" "bash" "btrfs-progs" "coreutils" "curl" "git" "htop" "immich" "immich-machine-learning"
    "immich-public-proxy" "jq" "nginx" "openssh" "postgresql" "postgresql_16" "redis" "rsync" "sops"
    "ssh-to-age" "sudo" "util-linux" "vim"
  ];
in
lib.genAttrs names stub // {
  inherit lib;
  system = "x86_64-linux";
  stdenv.hostPlatform = { system = "x86_64-linux"; isLinux = true; };
  writeText = name: _text: stub name;
  writeShellScript = name: _text: stub name;
  writeShellScriptBin = name: _text: stub name;
}
