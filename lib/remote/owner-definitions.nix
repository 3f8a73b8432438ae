# The host's own definitions of the options skylab-immich defines (run by the host look, host-facts.sh):
# NixOS' `options.<option>.definitionsWithLocations` on the host's evaluation of its configuration, less the
# files in the program's generated folder. For each requested leaf path (an option, or a path inside an
# option's value such as fileSystems."/var/lib/immich".options), the option it lies in and every other file's
# value at that path (only files in the config repo `repo`: NixOS' own modules are not the owner's). Values are data: functions, mkIf/mkOverride wrappers and packages are reported as
# { "$nonData" = kind; } and never compared as equal. A leaf whose option the host's nixpkgs does not declare
# is reported as missing.
#   nix-instantiate --eval --strict --json --readonly-mode -E "$(cat owner-definitions.nix)" \
#     --arg nixpkgs /path/to/nixpkgs --arg configuration /etc/nixos/configuration.nix --argstr repo /etc/nixos \
#     --argstr request '{"generatedDir":"modules/generated/skylab-immich","paths":[["services","immich","port"]]}'
{ nixpkgs, configuration, request, repo }:
let
  req = builtins.fromJSON request;
  lib = import (nixpkgs + "/lib");
  inherit (import (nixpkgs + "/nixos") { inherit configuration; }) options;
  isOption = x: builtins.isAttrs x && (x._type or null) == "option";
  # { option; rest } for the option that `path` lies in (rest: the path inside its value), or null.
  locate = tree: path:
    if isOption tree then { option = tree; rest = path; }
    else if path == [ ] || !(builtins.isAttrs tree) || !(tree ? ${builtins.head path}) then null
    else locate tree.${builtins.head path} (builtins.tail path);
  data = v:
    let t = builtins.typeOf v; in
    if t == "lambda" then { "$nonData" = "function"; }
    else if t == "path" then toString v
    else if t == "set" then
      (if v ? _type then { "$nonData" = v._type; }
       else if lib.isDerivation v then { "$nonData" = "package"; }
       else lib.mapAttrs (_: data) v)
    else if t == "list" then map data v
    else v;
  # The owner's files: in the config repo, outside the generated folder (NixOS' own modules are not the owner's).
  owners = file: lib.hasPrefix (repo + "/") (toString file) && !(lib.hasPrefix (repo + "/" + req.generatedDir + "/") (toString file));
  # The value at `rest` inside one definition, or null when that definition does not reach it.
  valueAt = rest: value:
    if rest == [ ] then { found = true; inherit value; }
    else if builtins.isAttrs value && !(value ? _type) && value ? ${builtins.head rest} then valueAt (builtins.tail rest) value.${builtins.head rest}
    else if builtins.isAttrs value && value ? _type then { found = true; value = value; } # a wrapper on the way: not data
    else if builtins.isFunction value then { found = true; inherit value; }
    else { found = false; };
  answer = path:
    let where = locate options path; in
    if where == null then { inherit path; missing = true; }
    else {
      inherit path;
      option = where.option.loc or [ ];
      definitions = lib.concatMap
        (def:
          let at = valueAt where.rest def.value; in
          if !(owners def.file) || !at.found then [ ]
          else [ { file = toString def.file; value = data at.value; } ])
        where.option.definitionsWithLocations;
    };
in
map answer req.paths
