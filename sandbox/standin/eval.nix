# A deliberately small NixOS-style module evaluator, used by the sandbox's nixos-rebuild stand-in.
#
# There is no nixpkgs in the sandbox, so this cannot be the real module system. It keeps the parts
# that decide whether a configuration evaluates and what it declares:
#   * `imports` are followed recursively (paths, functions, attribute sets), each path once;
#   * module functions get `{ config, lib, pkgs, options, modulesPath, ... }`, `config` being the lazy
#     fixpoint of the merged result;
#   * definitions merge recursively; lists concatenate; differing scalar definitions at the same
#     priority are an error, as with NixOS' `types.str`/`types.bool`;
#   * mkIf / mkMerge / mkOverride are pushed down to the leaves before conditions are evaluated, so
#     `config = lib.mkIf config.services.x.enable { ... }` works without infinite recursion;
#   * option declarations are not type-checked; only their `default` is used, at mkOptionDefault
#     priority;
#   * the sops-nix and NixOS defaults that the sandbox's checks need are built in (see `submoduleDefaults`).
#
# Usage: nix-instantiate --eval --strict --json --readonly-mode eval.nix --argstr configFile /etc/nixos/configuration.nix
{ configFile, hostName ? "skylab" }:
let
  inherit (builtins)
    all any attrNames concatMap concatStringsSep filter foldl' functionArgs genericClosure hasAttr
    isAttrs isBool isFunction isList isPath isString listToAttrs mapAttrs toJSON typeOf;

  lib = import ./lib.nix;
  pkgs = import ./pkgs.nix { inherit lib; };

  defaultPriority = 100;
  optionDefaultPriority = 1500;

  showPath = path: concatStringsSep "." path;

  moduleArgs = {
    inherit config lib pkgs;
    options = { };
    modulesPath = "/run/current-system/sw/share/nixos-standin/modules";
  };

  isPathLike = m: isPath m || isString m;

  # Function modules with formals get only what they ask for plus the standard set, as NixOS does.
  callModule = f:
    let formals = functionArgs f;
    in f (if formals == { } then moduleArgs else moduleArgs // builtins.intersectAttrs formals moduleArgs);

  loadModule = parentFile: key: m:
    let
      file = if isPathLike m then toString m else parentFile;
      imported = if isPathLike m then import m else m;
      value = if isFunction imported then callModule imported else imported;
    in
    if isAttrs value then { inherit key file; module = value; }
    else throw "The module `${key}' (imported from ${parentFile}) evaluates to a ${typeOf value}, not an attribute set or a function.";

  rootModule = loadModule configFile configFile (/. + configFile);

  modules = genericClosure {
    startSet = [ rootModule ];
    operator = item:
      let imports = item.module.imports or [ ];
      in lib.imap0
        (i: m: loadModule item.file (if isPathLike m then toString m else "${item.key}:anon-${toString i}") m)
        (if isList imports then imports else throw "`imports' in ${item.file} must be a list.");
  };

  moduleConfig = item:
    let m = item.module;
    in if m ? config || m ? options then m.config or { }
    else removeAttrs m [ "imports" "_file" "key" "disabledModules" "meta" ];

  # `options` declarations contribute their defaults only, so `config.x.y` is readable when a
  # module that declares `x.y` left it unset.
  optionDefaults = opts:
    if isAttrs opts && (opts._type or null) == "option"
    then (if opts ? default then lib.mkOptionDefault opts.default else lib.mkIf false null)
    else if isAttrs opts then mapAttrs (_: optionDefaults) opts
    else throw "Unexpected option declaration of type ${typeOf opts}.";

  userDefs = map (item: { file = item.file; value = moduleConfig item; conds = [ ]; prio = null; isDefault = false; }) modules;
  declaredDefaults = concatMap
    (item: if item.module ? options then [ { file = item.file; value = optionDefaults item.module.options; conds = [ ]; prio = optionDefaultPriority; isDefault = true; } ] else [ ])
    modules;

  placeholderFor = name: "<SOPS:${builtins.hashString "sha256" name}:PLACEHOLDER>";

  # Defaults the real NixOS modules and sops-nix would supply.
  builtinDefaults = {
    networking.hostName = lib.mkOptionDefault hostName;
    sops.placeholder = mapAttrs (name: _: placeholderFor name) ((config.sops or { }).secrets or { });
    sops.age.keyFile = lib.mkOptionDefault "/var/lib/sops-nix/key.txt";
    sops.validateSopsFiles = lib.mkOptionDefault true;
    services.immich = {
      enable = lib.mkOptionDefault false;
      host = lib.mkOptionDefault "localhost";
      port = lib.mkOptionDefault 2283;
      mediaLocation = lib.mkOptionDefault "/var/lib/immich";
      user = lib.mkOptionDefault "immich";
      group = lib.mkOptionDefault "immich";
    };
    services.nginx.enable = lib.mkOptionDefault false;
  };

  # Per-entry defaults of attrsOf-submodule options, keyed by the parent path.
  submoduleDefaults = path:
    let
      n = builtins.length path;
      name = lib.last path;
      parent = lib.take (n - 1) path;
      d = lib.mapAttrs (_: v: lib.mkOptionDefault v);
    in
    if parent == [ "sops" "secrets" ] then [
      (d {
        path = "/run/secrets/${name}";
        key = name;
        owner = "root";
        group = "root";
        mode = "0400";
        format = "yaml";
        sopsFile = (config.sops or { }).defaultSopsFile or null;
      })
    ]
    else if parent == [ "sops" "templates" ] then [
      (d { path = "/run/secrets/rendered/${name}"; owner = "root"; group = "root"; mode = "0400"; })
    ]
    else if parent == [ "fileSystems" ] then [
      (d { mountPoint = name; fsType = "auto"; options = [ "defaults" ]; })
    ]
    else if parent == [ "users" "users" ] then [
      (d { inherit name; isSystemUser = false; isNormalUser = false; extraGroups = [ ]; })
    ]
    else if parent == [ "users" "groups" ] then [ (d { inherit name; }) ]
    else [ ];

  defaultDef = value: { file = "<nixos-rebuild-standin defaults>"; inherit value; conds = [ ]; prio = null; isDefault = true; };

  # Strip property wrappers off a definition, keeping their effect as fields of the definition.
  expand = def:
    let
      v = def.value;
      t = if isAttrs v then v._type or null else null;
    in
    if t == "merge" then concatMap (c: expand (def // { value = c; })) v.contents
    else if t == "if" then expand (def // { value = v.content; conds = def.conds ++ [ v.condition ]; })
    else if t == "override" then expand (def // { value = v.content; prio = if def.prio == null then v.priority else def.prio; })
    else if t == "order" then expand (def // { value = v.content; })
    else [ def ];

  isNode = v: isAttrs v && !(v ? _type) && !(v ? outPath);

  checkCond = path: def: c:
    if isBool c then c
    else throw "The option `${showPath path}' (defined in ${def.file}) uses mkIf with a condition of type ${typeOf c}, not a Boolean.";
  isActive = path: def: all (checkCond path def) def.conds;
  priorityOf = def: if def.prio == null then defaultPriority else def.prio;

  showValue = v:
    if isString v then "\"${v}\""
    else if isFunction v then "<function>"
    else if isPath v then toString v
    else toJSON (plain v);

  # What a value looks like in the JSON output: paths as strings, packages as their store path.
  plain = v:
    if isPath v then toString v
    else if isFunction v then "<function>"
    else if isList v then map plain v
    else if isAttrs v && v ? outPath then toString v.outPath
    else if isAttrs v then mapAttrs (_: plain) v
    else v;

  mergeNode = path: defs:
    let
      expanded = concatMap expand defs;
      attrNode = expanded != [ ] && all (d: isNode d.value) expanded;

      names = lib.unique (concatMap (d: attrNames d.value) expanded);
      childDefs = name:
        concatMap (d: if hasAttr name d.value then [ (d // { value = d.value.${name}; }) ] else [ ]) expanded
        ++ map defaultDef (submoduleDefaults (path ++ [ name ]));
      children = listToAttrs (map (name: { inherit name; value = mergeNode (path ++ [ name ]) (childDefs name); }) names);

      active = filter (isActive path) expanded;
      bestPriority = foldl' (acc: d: if priorityOf d < acc then priorityOf d else acc) 999999 active;
      winners = filter (d: priorityOf d == bestPriority) active;
      first = builtins.head winners;
      leafValue =
        if active == [ ] then throw "The option `${showPath path}' is used but not defined."
        else if all (d: isList d.value) winners then concatMap (d: d.value) winners
        else if all (d: d.value == first.value) winners then first.value
        else throw ''
          The option `${showPath path}' has conflicting definition values:
          ${concatStringsSep "\n" (map (d: "- In `${d.file}': ${showValue d.value}") winners)}
        '';
    in
    if attrNode then {
      value = mapAttrs (_: c: c.value) children;
      defined = any (d: !d.isDefault) active;
      output = mapAttrs (_: c: c.output) (lib.filterAttrs (_: c: c.defined) children);
    } else {
      value = leafValue;
      defined = active != [ ];
      output = plain leafValue;
    };

  merged = mergeNode [ ] (userDefs ++ declaredDefaults ++ [ (defaultDef builtinDefaults) ]);
  config = merged.value;
in
{
  config = merged.output;
  modules = lib.unique (map (item: item.file) modules);
  sopsPlaceholders = config.sops.placeholder;
}
