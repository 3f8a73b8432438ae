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
#   * the options of the namespaces the project's generated modules set (services.immich,
#     services.immich-public-proxy, services.nginx, fileSystems, sops, systemd.tmpfiles,
#     users.users, users.groups) are declared in options.nix with their nixpkgs / sops-nix types and
#     checked as NixOS checks them: a name not declared there "does not exist", a definition of the
#     wrong type "is not of type ...", in the module system's words; everything else is not checked;
#   * options declared by the configuration's own modules are not type-checked; only their
#     `default` is used, at mkOptionDefault priority;
#   * the sops-nix and NixOS defaults that the sandbox's checks need are built in (see `submoduleDefaults`).
#
# Usage: nix-instantiate --eval --strict --json --readonly-mode eval.nix --argstr configFile /etc/nixos/configuration.nix
{ configFile, hostName ? "skylab" }:
let
  inherit (builtins)
    all any attrNames attrValues concatLists concatMap concatStringsSep filter foldl' functionArgs
    genericClosure hasAttr head isAttrs isBool isFloat isFunction isInt isList isPath isString length
    listToAttrs mapAttrs match replaceStrings seq split stringLength substring tail toJSON tryEval typeOf;

  lib = import ./lib.nix;
  pkgs = import ./pkgs.nix { inherit lib; };
  declared = import ./options.nix { inherit lib; };

  defaultPriority = 100;
  optionDefaultPriority = 1500;
  defaultsFile = "<nixos-rebuild-standin defaults>";

  # nixpkgs' showOption: names that are not identifiers are quoted; `*` and `<name>` placeholders are not.
  showOption = path: concatStringsSep "." (map (part: if part == "*" || match "<.*>" part != null then part else escapeNixIdentifier part) path);
  escapeNixIdentifier = s: if match "[a-zA-Z_][a-zA-Z0-9_'-]*" s != null then s else escapeNixString s;
  escapeNixString = s: replaceStrings [ "$" ] [ "\\$" ] (toJSON s);
  showFiles = files: concatStringsSep " and " (map (f: "`${f}'") files);

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
    sops.placeholder = mapAttrs (name: _: lib.mkDefault (placeholderFor name)) ((config.sops or { }).secrets or { });
    sops.age.keyFile = lib.mkOptionDefault "/var/lib/sops-nix/key.txt";
    sops.validateSopsFiles = lib.mkOptionDefault true;
    services.immich = {
      enable = lib.mkOptionDefault false;
      host = lib.mkOptionDefault "localhost";
      port = lib.mkOptionDefault 2283;
      mediaLocation = lib.mkOptionDefault "/var/lib/immich";
      user = lib.mkOptionDefault "immich";
      group = lib.mkOptionDefault "immich";
      database = {
        enable = lib.mkOptionDefault true;
        createDB = lib.mkOptionDefault true;
        name = lib.mkOptionDefault "immich";
        host = lib.mkOptionDefault "/run/postgresql";
        port = lib.mkOptionDefault 5432;
        user = lib.mkOptionDefault "immich";
      };
    };
    # services.postgresql is not declared here (not checked); its package is what modules refer to.
    services.postgresql.package = lib.mkOptionDefault pkgs.postgresql;
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

  defaultDef = value: { file = defaultsFile; inherit value; conds = [ ]; prio = null; isDefault = true; };

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
    else throw "The option `${showOption path}' (defined in ${def.file}) uses mkIf with a condition of type ${typeOf c}, not a Boolean.";
  isActive = path: def: all (checkCond path def) def.conds;
  priorityOf = def: if def.prio == null then defaultPriority else def.prio;
  highest = defs:
    let best = foldl' (acc: d: if priorityOf d < acc then priorityOf d else acc) 999999 defs;
    in filter (d: priorityOf d == best) defs;

  # nixpkgs' lib.generators.toPretty { } and lib.options.showDefs: how definitions appear in errors.
  toPretty = indent: v:
    let
      intro = "\n${indent}  ";
      outro = "\n${indent}";
      go = toPretty "${indent}  ";
    in
    if isInt v then toString v
    else if isFloat v then "~${toString v}"
    else if isString v then
      let
        lines = filter isString (split "\n" v);
        n = length lines;
        escaped = map (replaceStrings [ "\${" "''" ] [ "''\${" "'''" ]) lines;
        last = lib.last escaped;
      in
      if n > 1 then "''" + intro + concatStringsSep intro (lib.take (n - 1) escaped) + (if last == "" then outro else intro + last) + "''"
      else "\"" + replaceStrings [ "\\" "\"" "\${" ] [ "\\\\" "\\\"" "\\\${" ] v + "\""
    else if isBool v then (if v then "true" else "false")
    else if v == null then "null"
    else if isPath v then toString v
    else if isFunction v then
      let args = functionArgs v;
      in if args == { } then "<function>"
      else "<function, args: {${concatStringsSep ", " (map (a: if args.${a} then "${a}?" else a) (attrNames args))}}>"
    else if isList v then (if v == [ ] then "[ ]" else "[" + intro + concatStringsSep intro (map go v) + outro + "]")
    else if v == { } then "{ }"
    else if (v.type or null) == "derivation" then "<derivation ${v.name or "<unknown>"}>"
    else "{" + intro + concatStringsSep intro (map (a: "${escapeNixIdentifier a} = ${go v.${a}};") (attrNames v)) + outro + "}";

  showDefs = defs: concatStringsSep "" (map
    (def:
      let
        pretty = tryEval (toPretty "" def.value);
        lines = filter isString (split "\n" pretty.value);
        shown = concatStringsSep "\n    " (lib.take 5 lines ++ lib.optional (length lines > 5) "...");
      in
      "\n- In `${def.file}'" + (if !pretty.success then "" else if length lines > 1 then ":\n    " + shown else ": " + shown))
    defs);

  # What a value looks like in the JSON output: paths as strings, packages as their store path.
  plain = v:
    if isPath v then toString v
    else if isFunction v then "<function>"
    else if isList v then map plain v
    else if isAttrs v && v ? outPath then toString v.outPath
    else if isAttrs v then mapAttrs (_: plain) v
    else v;

  # ---------------------------------------------------------------- merging and checking
  # A node of the configuration tree is { value, defined, output, checks }: `value` is what `config`
  # shows, `output` what the JSON shows (only `defined` children), `checks` forces the "does not
  # exist" errors of declared option sets, which NixOS reports even for definitions under `mkIf false`.

  prioritySuggestion = "Use `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.\n";

  # nixpkgs' mergeEqualOption.
  mergeEqual = path: defs:
    let
      first = head defs;
      differing = filter (d: d.value != first.value) (tail defs);
    in
    if length defs == 1 || differing == [ ] then first.value
    else throw "The option `${showOption path}' has conflicting definition values:${showDefs [ first (head differing) ]}\n${prioritySuggestion}";

  # nixpkgs' mergeOneOption.
  mergeUnique = path: defs:
    if length defs == 1 then (head defs).value
    else throw "The option `${showOption path}' is defined multiple times while it's expected to be unique.\n\nDefinition values:${showDefs defs}\n${prioritySuggestion}";

  notOfType = path: type: rest: throw "A definition for option `${showOption path}' is not of type `${type.description}'. ${rest}";

  # The type check of nixpkgs' mergeDefinitions: the head of each definition (nested values are
  # checked by their own merge); types with a v2 merge in nixpkgs report it as a "TypeError". The
  # stand-in's own defaults are not checked.
  checkHead = path: type: defs:
    let invalid = filter (d: d.file != defaultsFile && !type.check d.value) defs;
    in
    if invalid == [ ] then true
    else if type.v2 then notOfType path type "TypeError: Definition values: ${showDefs invalid}"
    else notOfType path type "Definition values:${showDefs invalid}";

  usedButNotDefined = path: throw "The option `${showOption path}' is used but not defined.";

  # decl: null (not checked), a declared option set, or `{ _type = "option"; type; }` (options.nix).
  mergeNode = path: decl: defs:
    if decl == null then mergeFree path defs
    else if (decl._type or null) == "option" then mergeOption path decl.type defs
    else mergeSet path decl defs;

  # Not checked: definitions merge recursively, lists concatenate, other values must be equal.
  mergeFree = path: defs:
    let
      expanded = concatMap expand defs;
      attrNode = expanded != [ ] && all (d: isNode d.value) expanded;

      names = lib.unique (concatMap (d: attrNames d.value) expanded);
      childDefs = name:
        concatMap (d: if hasAttr name d.value then [ (d // { value = d.value.${name}; }) ] else [ ]) expanded
        ++ map defaultDef (submoduleDefaults (path ++ [ name ]));
      children = listToAttrs (map (name: { inherit name; value = mergeFree (path ++ [ name ]) (childDefs name); }) names);

      active = filter (isActive path) expanded;
      winners = highest active;
      leafValue =
        if active == [ ] then usedButNotDefined path
        else if all (d: isList d.value) winners then concatMap (d: d.value) winners
        else mergeEqual path winners;
    in
    if attrNode then {
      value = mapAttrs (_: c: c.value) children;
      defined = any (d: !d.isDefault) active;
      output = mapAttrs (_: c: c.output) (lib.filterAttrs (_: c: c.defined) children);
      checks = true;
    } else {
      value = leafValue;
      defined = active != [ ];
      output = plain leafValue;
      checks = true;
    };

  # Options declared by the configuration's own modules are accepted inside declared sets, unchecked.
  userOptions = foldl' lib.recursiveUpdate { } (map (item: item.module.options) (filter (item: item.module ? options) modules));
  userDeclared = path: lib.attrByPath path null userOptions != null;

  undeclared = path: def:
    let error = throw "The option `${showOption path}' does not exist. Definition values:${showDefs [ def ]}";
    in { value = error; defined = true; output = error; checks = error; };

  # A declared set of options (nixpkgs' mergeModules): every name must be declared, unless the set
  # has a `_freeform` (true: not checked; a type: each undeclared name has that type).
  mergeSet = path: decl: defs:
    let
      expanded = concatMap expand defs;
      notSets = filter (d: !isNode d.value) expanded;
      sets = filter (d: isNode d.value) expanded;
      freeform = decl._freeform or null;
      names = lib.unique (concatMap (d: attrNames d.value) sets);
      childDefs = name: concatMap (d: if hasAttr name d.value then [ (d // { value = d.value.${name}; }) ] else [ ]) sets;
      child = name:
        if name != "_freeform" && hasAttr name decl then mergeNode (path ++ [ name ]) decl.${name} (childDefs name)
        else if freeform == true || userDeclared (path ++ [ name ]) then mergeFree (path ++ [ name ]) (childDefs name)
        else if isAttrs freeform then mergeOption (path ++ [ name ]) (if freeform.kind == "attrs" then freeform.elemType else freeform) (childDefs name)
        else undeclared (path ++ [ name ]) (head (childDefs name));
      children = listToAttrs (map (name: { inherit name; value = child name; }) names);
      active = filter (isActive path) expanded;
      # nixpkgs' mergeModules' wording for a non-set definition of a set of options.
      shape =
        if notSets == [ ] then true
        else let p = concatStringsSep "." path; in throw ''
          You're trying to declare a value of type `${typeOf (head notSets).value}'
          rather than an attribute set for the option
          `${p}'!

          This usually happens if `${p}' has option
          definitions inside that are not matched. Please check how to properly define
          this option by e.g. referring to `man 5 configuration.nix'!
        '';
    in
    {
      value = seq shape (mapAttrs (_: c: c.value) children);
      defined = any (d: !d.isDefault) active;
      output = seq shape (mapAttrs (_: c: c.output) (lib.filterAttrs (_: c: c.defined) children));
      checks = seq shape (all (c: c.checks) (attrValues children));
    };

  # One typed option (nixpkgs' mergeDefinitions): mkIf and mkOverride are resolved at the option,
  # then the remaining definitions are type-checked and merged by the type. For attribute-set-like
  # types the built-in per-entry defaults stay out of the priority contest: in NixOS they are
  # option defaults inside the submodule, not definitions of the whole entry.
  mergeOption = path: type: defs:
    let
      expanded = concatMap expand defs;
      active = filter (isActive path) expanded;
      own = filter (d: !d.isDefault) active;
      setLike = type.kind == "attrs" || type.kind == "submodule";
      winners = if setLike then highest own ++ filter (d: d.isDefault) active else highest active;
      merged = mergeWinners path type winners;
    in
    {
      value = if active == [ ] then usedButNotDefined path else merged.value;
      # Whether an attrsOf/listOf entry exists (entries whose definitions are all `mkIf false` do not).
      present =
        if type.kind == "submodule" then own != [ ] || (active != [ ] && all (d: d.isDefault) expanded)
        else active != [ ];
      defined = if setLike then own != [ ] else active != [ ];
      output = merged.output;
      checks = true;
    };

  mergeWinners = path: type: defs:
    let
      kind = type.kind;
      checked = if kind == "either" then true else checkHead path type defs;
      fresh = d: d // { conds = [ ]; prio = null; };

      result =
        if kind == "leaf" then
          let
            v =
              if type.merge == "unique" then mergeUnique path defs
              else if type.merge == "singleLine" then
                let s = mergeEqual path defs; l = stringLength s;
                in if l > 0 && substring (l - 1) 1 s == "\n" then substring 0 (l - 1) s else s
              else mergeEqual path defs;
          in { value = v; output = plain v; }

        else if kind == "nullOr" then
          let nulls = filter (d: d.value == null) defs;
          in
          if length nulls == length defs then { value = null; output = null; }
          else if nulls != [ ] then throw "The option `${showOption path}` is defined both null and not null, in ${showFiles (map (d: d.file) defs)}."
          else mergeWinners path type.elemType defs

        else if kind == "either" then
          let fails = t: filter (d: d.file != defaultsFile && !t.check d.value) defs;
          in
          if fails type.left == [ ] then mergeWinners path type.left defs
          else if fails type.right == [ ] then mergeWinners path type.right defs
          else notOfType path type "TypeError: The option `${showOption path}` is neither a value of type `${type.left.description}` nor `${type.right.description}`, Definition values: ${showDefs defs}"

        else if kind == "list" then
          let
            entries = concatLists (lib.imap1
              (n: d: lib.imap1
                (m: v: mergeOption (path ++ [ "[definition ${toString n}-entry ${toString m}]" ]) type.elemType [ (fresh d // { value = v; }) ])
                d.value)
              defs);
            kept = filter (e: e.present) entries;
          in { value = map (e: e.value) kept; output = map (e: e.output) kept; }

        else if kind == "attrs" then
          let
            names = lib.unique (concatMap (d: attrNames d.value) defs);
            entryDefs = name:
              concatMap (d: if hasAttr name d.value then [ (fresh d // { value = d.value.${name}; }) ] else [ ]) defs
              ++ map defaultDef (submoduleDefaults (path ++ [ name ]));
            entries = listToAttrs (map (name: { inherit name; value = mergeOption (path ++ [ name ]) type.elemType (entryDefs name); }) names);
          in
          {
            value = mapAttrs (_: e: e.value) (lib.filterAttrs (_: e: e.present) entries);
            output = mapAttrs (_: e: e.output) (lib.filterAttrs (_: e: e.defined) entries);
          }

        else if kind == "submodule" then
          let
            # A definition is the submodule's config, or a module (function or file) giving it.
            asConfig = v:
              let
                m = if isPathLike v then import v else v;
                r = if isFunction m then m (moduleArgs // { name = lib.last path; config = set.value; }) else m;
              in
              if isFunction m && (r ? config || r ? options) then r.config or { } else r;
            set = mergeSet path type.options (map (d: fresh d // { value = asConfig d.value; }) defs);
          in
          { value = seq set.checks set.value; output = seq set.checks set.output; }

        else # "anything": checked at its head, merged like the parts that are not checked
          mergeFree path defs;
    in
    { value = seq checked result.value; output = seq checked result.output; };

  merged = mergeNode [ ] declared.declarations (userDefs ++ declaredDefaults ++ [ (defaultDef builtinDefaults) ]);
  config = merged.value;
in
{
  config = seq merged.checks merged.output;
  modules = lib.unique (map (item: item.file) modules);
  sopsPlaceholders = config.sops.placeholder;
}
