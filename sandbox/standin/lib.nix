# The subset of nixpkgs' `lib` that plain NixOS modules commonly use. The sandbox has no nixpkgs,
# so the stand-in evaluator ships this instead. The property wrappers (`_type` = if / merge /
# override / order) have the same shape as nixpkgs' so the evaluator can discharge them the same way.
let
  inherit (builtins)
    attrNames concatMap concatStringsSep elem filter foldl' genList hasAttr head isAttrs isList
    length listToAttrs match replaceStrings stringLength substring tail;
in
rec {
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOptionDefault = mkOverride 1500;
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  mkVMOverride = mkOverride 10;
  mkOrder = priority: content: { _type = "order"; inherit priority content; };
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;

  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = name: mkOption { default = false; description = "Whether to enable ${name}."; };
  mkPackageOption = _pkgs: name: _extra: mkOption { description = "The ${toString name} package to use."; };
  literalExpression = text: { _type = "literalExpression"; inherit text; };
  mdDoc = text: text;
  # Option types are only carried, never checked: the stand-in does not type-check definitions.
  types =
    let t = name: { _type = "option-type"; inherit name; };
    in {
      str = t "str"; lines = t "lines"; bool = t "bool"; int = t "int"; port = t "port"; path = t "path";
      package = t "package"; attrs = t "attrs"; anything = t "anything"; raw = t "raw";
      listOf = _: t "listOf"; attrsOf = _: t "attrsOf"; nullOr = _: t "nullOr"; enum = _: t "enum";
      submodule = _: t "submodule"; either = _: _: t "either"; oneOf = _: t "oneOf";
    };

  id = x: x;
  const = x: _: x;
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  optionalString = cond: s: if cond then s else "";
  optionalAttrs = cond: attrs: if cond then attrs else { };

  inherit concatStringsSep concatMap attrNames elem filter foldl' head tail length replaceStrings;
  inherit (builtins) attrValues mapAttrs hasAttr toJSON fromJSON isString isBool isInt isFunction;
  isAttrs = builtins.isAttrs;
  isList = builtins.isList;
  concatStrings = concatStringsSep "";
  concatMapStrings = f: xs: concatStringsSep "" (map f xs);
  concatMapStringsSep = sep: f: xs: concatStringsSep sep (map f xs);
  concatLists = builtins.concatLists;
  flatten = x: if isList x then concatMap flatten x else [ x ];
  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
  imap0 = f: xs: genList (i: f i (builtins.elemAt xs i)) (length xs);
  imap1 = f: xs: genList (i: f (i + 1) (builtins.elemAt xs i)) (length xs);
  last = xs: builtins.elemAt xs (length xs - 1);
  take = n: xs: genList (i: builtins.elemAt xs i) (if n < length xs then n else length xs);
  range = first: last: if first > last then [ ] else genList (n: first + n) (last - first + 1);

  nameValuePair = name: value: { inherit name value; };
  mapAttrsToList = f: attrs: map (n: f n attrs.${n}) (attrNames attrs);
  mapAttrs' = f: attrs: listToAttrs (mapAttrsToList f attrs);
  filterAttrs = pred: attrs:
    listToAttrs (concatMap (n: if pred n attrs.${n} then [ { name = n; value = attrs.${n}; } ] else [ ]) (attrNames attrs));
  genAttrs = names: f: listToAttrs (map (n: { name = n; value = f n; }) names);
  attrByPath = path: default: set:
    if path == [ ] then set
    else if isAttrs set && hasAttr (head path) set then attrByPath (tail path) default set.${head path}
    else default;
  recursiveUpdate = lhs: rhs:
    lhs // builtins.mapAttrs
      (n: v: if isAttrs v && hasAttr n lhs && isAttrs lhs.${n} then recursiveUpdate lhs.${n} v else v)
      rhs;

  hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;
  hasSuffix = suffix: s:
    let ls = stringLength s; lx = stringLength suffix;
    in lx <= ls && substring (ls - lx) lx s == suffix;
  removePrefix = prefix: s:
    if hasPrefix prefix s then substring (stringLength prefix) (stringLength s - stringLength prefix) s else s;
  splitString = sep: s: filter builtins.isString (builtins.split (escapeRegex sep) s);
  escapeRegex = replaceStrings
    [ "\\" "[" "]" "(" ")" "{" "}" "." "*" "+" "?" "^" "$" "|" ]
    [ "\\\\" "\\[" "\\]" "\\(" "\\)" "\\{" "\\}" "\\." "\\*" "\\+" "\\?" "\\^" "\\$" "\\|" ];
  toUpper = replaceStrings
    (map (c: c) (builtins.genList (i: builtins.substring i 1 "abcdefghijklmnopqrstuvwxyz") 26))
    (map (c: c) (builtins.genList (i: builtins.substring i 1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") 26));
  toLower = replaceStrings
    (map (c: c) (builtins.genList (i: builtins.substring i 1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") 26))
    (map (c: c) (builtins.genList (i: builtins.substring i 1 "abcdefghijklmnopqrstuvwxyz") 26));

  # Same rule as current nixpkgs: leave "safe" words bare, single-quote everything else.
  escapeShellArg = arg:
    let s = toString arg;
    in if match "[[:alnum:],._+:@%/-]+" s == null
      then "'${replaceStrings [ "'" ] [ "'\\''" ] s}'"
      else s;
  escapeShellArgs = args: concatStringsSep " " (map escapeShellArg args);
}
