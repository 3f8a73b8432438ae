# Option declarations for the namespaces that skylab-immich's generated modules set, with the types
# nixpkgs and sops-nix give them, so that the stand-in rejects a misspelt or mistyped option the way
# NixOS does (see eval.nix for the checking itself).
#
# Option names, types and type descriptions are carried over from nixpkgs (`lib/types.nix`, the
# module files named above each block) and sops-nix (`modules/sops/...`); no code is copied. Only
# types are declared here: defaults stay in eval.nix (`builtinDefaults`, `submoduleDefaults`).
#
# Shape of `declarations`:
#   * an attribute set is a set of options; a name it does not declare is an error ("does not
#     exist"), unless `_freeform` is set: `true` leaves undeclared names unchecked (everything
#     outside the namespaces below), a type checks each undeclared name's value against it;
#   * `option T` is an option of type T.
{ lib }:
let
  inherit (builtins)
    all attrNames concatStringsSep dirOf elem isAttrs isBool isFloat isFunction isInt isList isPath
    isString length match stringLength substring toJSON;

  isStringLike = x: isString x || isPath x || (isAttrs x && (x ? outPath || x ? __toString));
  isDerivation = x: isAttrs x && (x.type or null) == "derivation";
  isStorePath = x: isStringLike x && (let s = toString x; in substring 0 1 s == "/" && dirOf s == builtins.storeDir);
  hasInfix = infix: s: length (builtins.split (lib.escapeRegex infix) (toString s)) > 1;

  # ---------------------------------------------------------------- types (nixpkgs lib/types.nix)
  # A type is { description, descriptionClass, check, kind, ... }. `kind` says how the evaluator
  # merges it: "leaf" (with `merge` = "equal" | "unique" | "singleLine"), "list", "attrs",
  # "submodule", "nullOr", "either" or "anything". `v2` marks the types whose type errors nixpkgs
  # reports through its v2 merge ("... TypeError: Definition values: ...").
  mkType = attrs: { _type = "option-type"; descriptionClass = null; kind = "leaf"; merge = "equal"; v2 = false; } // attrs;

  # nixpkgs' optionDescriptionPhrase: parenthesize a description that would be ambiguous.
  phrase = fits: t: if fits t.descriptionClass then t.description else "(${t.description})";
  nounOrComposite = c: c == "noun" || c == "composite";
  nounOrConjunction = c: c == "noun" || c == "conjunction";

  addCheck = t: extra: t // { check = x: t.check x && extra x; };
  # nixos/modules/tasks/filesystems.nix' addCheckDesc.
  addCheckDesc = desc: t: extra: addCheck t extra // { description = "${t.description} (with check: ${desc})"; };

  betweenDesc = lo: hi: "${toString lo} and ${toString hi} (both inclusive)";

  types = rec {
    str = mkType { name = "str"; description = "string"; descriptionClass = "noun"; check = isString; };
    nonEmptyStr = mkType {
      name = "nonEmptyStr"; description = "non-empty string"; descriptionClass = "noun";
      check = x: isString x && match "[ \t\n]*" x == null;
    };
    singleLineStr = mkType {
      name = "singleLineStr"; description = "(optionally newline-terminated) single-line string";
      descriptionClass = "noun"; merge = "singleLine";
      check = x: isString x && match "[^\n\r]*\n?" x != null;
    };
    strMatching = pattern: mkType {
      name = "strMatching"; description = "string matching the pattern ${pattern}"; descriptionClass = "noun";
      check = x: isString x && match pattern x != null;
    };
    # Merged by concatenation in nixpkgs; the stand-in keeps differing definitions a conflict.
    lines = mkType { name = "separatedString"; description = "strings concatenated with ${toJSON "\n"}"; descriptionClass = "noun"; check = isString; };
    passwdEntry = t: addCheck t (x: !(hasInfix ":" x || hasInfix "\n" x)) // {
      description = "${phrase (c: c == "noun") t}, not containing newlines or colons";
      descriptionClass = "nonRestrictiveClause";
    };

    bool = mkType { name = "bool"; description = "boolean"; descriptionClass = "noun"; check = isBool; };
    int = mkType { name = "int"; description = "signed integer"; descriptionClass = "noun"; check = isInt; };
    ints = {
      between = lo: hi: addCheck int (x: x >= lo && x <= hi) // { description = "integer between ${betweenDesc lo hi}"; };
      unsigned = addCheck int (x: x >= 0) // { description = "unsigned integer, meaning >=0"; descriptionClass = "nonRestrictiveClause"; };
      positive = addCheck int (x: x > 0) // { description = "positive integer, meaning >0"; descriptionClass = "nonRestrictiveClause"; };
      u16 = addCheck int (x: x >= 0 && x <= 65535) // { description = "16 bit unsigned integer; between ${betweenDesc 0 65535}"; };
    };
    port = ints.u16;

    # types.path = pathWith { absolute = true; }
    path = mkType { name = "path"; description = "absolute path"; descriptionClass = "noun"; check = x: isStringLike x && substring 0 1 (toString x) == "/"; };
    package = mkType { name = "package"; description = "package"; descriptionClass = "noun"; merge = "unique"; check = x: isDerivation x || isStorePath x; };
    shellPackage = package // { check = x: isDerivation x && x ? shellPath; };
    attrs = mkType { name = "attrs"; description = "attribute set"; check = isAttrs; };
    anything = mkType { name = "anything"; kind = "anything"; description = "anything"; descriptionClass = "noun"; check = _: true; };
    unspecified = mkType { name = "unspecified"; description = "unspecified value"; descriptionClass = "noun"; check = _: true; };

    enum = values:
      let
        show = v: if isString v then ''"${v}"'' else if isInt v then toString v else if isBool v then (if v then "true" else "false") else "<${builtins.typeOf v}>";
      in
      mkType {
        name = "enum";
        description =
          if values == [ ] then "impossible (empty enum)"
          else if length values == 1 then "value ${show (builtins.head values)} (singular enum)"
          else "one of ${concatStringsSep ", " (map show values)}";
        descriptionClass = if length values < 2 then "noun" else "conjunction";
        check = x: elem x values;
      };

    listOf = t: mkType {
      name = "listOf"; kind = "list"; v2 = true; elemType = t;
      description = "list of ${phrase nounOrComposite t}"; descriptionClass = "composite";
      check = isList;
    };
    nonEmptyListOf = t:
      let list = addCheck (listOf t) (l: l != [ ]);
      in list // { description = "non-empty ${phrase (c: c == "noun") list}"; };
    attrsOf = t: mkType {
      name = "attrsOf"; kind = "attrs"; v2 = true; elemType = t;
      description = "attribute set of ${phrase nounOrComposite t}"; descriptionClass = "composite";
      check = isAttrs;
    };
    # `options` is a declaration set (see the top of this file). With a `_freeform` type the
    # description becomes "open submodule of ...", as nixpkgs says it.
    submodule = options: mkType {
      name = "submodule"; kind = "submodule"; v2 = true; inherit options;
      description =
        if isAttrs (options._freeform or null) then "open submodule of ${phrase nounOrComposite options._freeform}"
        else "submodule";
      check = x: isAttrs x || isFunction x || path.check x;
    };
    nullOr = t: mkType {
      name = "nullOr"; kind = "nullOr"; elemType = t;
      description = "null or ${phrase nounOrConjunction t}"; descriptionClass = "conjunction";
      check = x: x == null || t.check x;
    };
    either = t1: t2: mkType {
      name = "either"; kind = "either"; v2 = true; left = t1; right = t2;
      description =
        if t1.descriptionClass == "nonRestrictiveClause" then "${t1.description}, or ${phrase nounOrConjunction t2}"
        else "${phrase nounOrConjunction t1} or ${phrase (c: nounOrConjunction c || c == "composite") t2}";
      descriptionClass = "conjunction";
      check = x: t1.check x || t2.check x;
    };
    oneOf = ts: builtins.foldl' either (builtins.head ts) (builtins.tail ts);
    uniq = t: t // { merge = if t.kind == "leaf" then "unique" else t.merge; };

    # pkgs.formats.json's type (nixpkgs pkgs/pkgs-lib/formats.nix): checked at its head only.
    jsonValue = mkType {
      name = "nullOr"; kind = "anything"; description = "JSON value"; descriptionClass = "conjunction";
      check = x: x == null || isBool x || isInt x || isFloat x || isString x || isPath x || isAttrs x || isList x;
    };
  };

  option = type: { _type = "option"; inherit type; };

  inherit (types)
    str nonEmptyStr singleLineStr lines passwdEntry bool int ints port path package shellPackage attrs
    anything unspecified enum listOf nonEmptyListOf attrsOf submodule nullOr either oneOf uniq jsonValue;

  # ---------------------------------------------------------------- nixos/modules/services/web-apps/immich.nix
  immich = {
    enable = option bool;
    package = option package;
    mediaLocation = option path;
    environment = option (submodule { _freeform = attrsOf str; });
    # `types.str // { check = isString && path.check }`: described as a plain string.
    secretsFile = option (nullOr (str // { check = x: isString x && path.check x; }));
    host = option str;
    port = option port;
    openFirewall = option bool;
    user = option str;
    group = option str;
    settings = option (nullOr (submodule {
      _freeform = jsonValue;
      newVersionCheck.enabled = option bool;
      server.externalDomain = option str;
    }));
    machine-learning = {
      enable = option bool;
      environment = option (submodule { _freeform = attrsOf str; });
    };
    accelerationDevices = option (nullOr (listOf str));
    database = {
      enable = option bool;
      enableVectorChord = option bool;
      enableVectors = option bool;
      createDB = option bool;
      name = option str;
      host = option str;
      port = option port;
      user = option str;
    };
    redis = {
      enable = option bool;
      host = option str;
      port = option port;
    };
  };

  # ---------------------------------------------------------------- nixos/modules/services/web-apps/immich-public-proxy.nix
  immichPublicProxy = {
    enable = option bool;
    package = option package;
    immichUrl = option str;
    port = option port;
    openFirewall = option bool;
    settings = option (submodule { _freeform = jsonValue; });
  };

  # ---------------------------------------------------------------- nixos/modules/services/networking/cloudflared.nix
  cloudflaredOriginRequest = {
    connectTimeout = option (nullOr str);
    tlsTimeout = option (nullOr str);
    tcpKeepAlive = option (nullOr str);
    noHappyEyeballs = option (nullOr bool);
    keepAliveConnections = option (nullOr int);
    keepAliveTimeout = option (nullOr str);
    httpHostHeader = option (nullOr str);
    originServerName = option (nullOr str);
    caPool = option (nullOr (either str path));
    noTLSVerify = option (nullOr bool);
    disableChunkedEncoding = option (nullOr bool);
    proxyAddress = option (nullOr str);
    proxyPort = option (nullOr int);
    proxyType = option (nullOr (enum [ "" "socks" ]));
  };
  cloudflaredIngress = submodule {
    originRequest = cloudflaredOriginRequest;
    service = option (nullOr str);
    path = option (nullOr str);
  };
  cloudflaredTunnel = {
    certificateFile = option (nullOr path);
    originRequest = cloudflaredOriginRequest;
    credentialsFile = option (nullOr path);
    token = option (nullOr str);
    tokenFile = option (nullOr path);
    warp-routing = {
      enabled = option (nullOr bool);
    };
    edgeIPVersion = option (enum [ "auto" "4" "6" ]);
    protocol = option (enum [ "auto" "http2" "quic" ]);
    default = option str;
    ingress = option (attrsOf (either str cloudflaredIngress));
  };
  cloudflared = {
    certificateFile = option (nullOr path);
    enable = option bool;
    package = option package;
    tunnels = option (attrsOf (submodule cloudflaredTunnel));
  };

  # ---------------------------------------------------------------- nixos/modules/services/web-servers/nginx/location-options.nix
  nginxLocation = {
    basicAuth = option (attrsOf str);
    basicAuthFile = option (nullOr path);
    proxyPass = option (nullOr str);
    proxyWebsockets = option bool;
    uwsgiPass = option (nullOr str);
    index = option (nullOr str);
    tryFiles = option (nullOr str);
    root = option (nullOr path);
    alias = option (nullOr path);
    return = option (nullOr (oneOf [ str int ]));
    fastcgiParams = option (attrsOf (either str path));
    extraConfig = option lines;
    priority = option int;
    recommendedProxySettings = option bool;
    recommendedUwsgiSettings = option bool;
  };

  # ---------------------------------------------------------------- nixos/modules/services/web-servers/nginx/vhost-options.nix
  nginxListen = submodule {
    addr = option str;
    port = option (nullOr port);
    ssl = option bool;
    proxyProtocol = option bool;
    extraParameters = option (listOf str);
  };
  nginxVhost = {
    serverName = option (nullOr str);
    serverAliases = option (listOf str);
    listen = option (listOf nginxListen);
    listenAddresses = option (listOf str);
    enableACME = option bool;
    useACMEHost = option (nullOr str);
    acmeRoot = option (nullOr str);
    acmeFallbackHost = option (nullOr str);
    addSSL = option bool;
    onlySSL = option bool;
    enableSSL = option bool;
    forceSSL = option bool;
    rejectSSL = option bool;
    kTLS = option bool;
    sslCertificate = option (nullOr path);
    sslCertificateKey = option (nullOr path);
    sslTrustedCertificate = option (nullOr path);
    http2 = option bool;
    http3 = option bool;
    http3_hq = option bool;
    quic = option bool;
    reuseport = option bool;
    root = option (nullOr path);
    default = option bool;
    extraConfig = option lines;
    globalRedirect = option (nullOr str);
    redirectCode = option (ints.between 300 399);
    basicAuth = option (attrsOf str);
    basicAuthFile = option (nullOr path);
    locations = option (attrsOf (submodule nginxLocation));
  };

  # ---------------------------------------------------------------- nixos/modules/services/web-servers/nginx/default.nix
  nginx = {
    enable = option bool;
    statusPage = option bool;
    recommendedTlsSettings = option bool;
    recommendedOptimisation = option bool;
    recommendedBrotliSettings = option bool;
    recommendedGzipSettings = option bool;
    recommendedZstdSettings = option bool;
    recommendedProxySettings = option bool;
    recommendedUwsgiSettings = option bool;
    proxyTimeout = option str;
    uwsgiTimeout = option str;
    defaultListen = option (listOf (submodule {
      addr = option str;
      port = option (nullOr port);
      ssl = option (nullOr bool);
      proxyProtocol = option bool;
      extraParameters = option (listOf str);
    }));
    defaultListenAddresses = option (listOf str);
    defaultHTTPListenPort = option port;
    defaultSSLListenPort = option port;
    defaultMimeTypes = option path;
    package = option package;
    additionalModules = option (listOf (attrsOf anything));
    logError = option str;
    preStart = option lines;
    config = option str;
    appendConfig = option lines;
    commonHttpConfig = option lines;
    commonServerConfig = option lines;
    httpConfig = option lines;
    streamConfig = option lines;
    eventsConfig = option lines;
    appendHttpConfig = option lines;
    enableReload = option bool;
    enableQuicBPF = option bool;
    validateConfigFile = option bool;
    user = option str;
    group = option str;
    serverTokens = option bool;
    clientMaxBodySize = option str;
    sslCiphers = option (nullOr str);
    sslProtocols = option str;
    sslDhparam = option (nullOr path);
    proxyResolveWhileRunning = option bool;
    uwsgiResolveWhileRunning = option bool;
    mapHashBucketSize = option (nullOr (enum [ 32 64 128 ]));
    mapHashMaxSize = option (nullOr ints.positive);
    serverNamesHashBucketSize = option (nullOr ints.positive);
    serverNamesHashMaxSize = option (nullOr ints.positive);
    typesHashMaxSize = option ints.positive;
    proxyCachePath = option (attrsOf (submodule {
      enable = option bool;
      keysZoneName = option str;
      keysZoneSize = option str;
      levels = option str;
      useTempPath = option bool;
      inactive = option str;
      maxSize = option str;
    }));
    resolver = option (submodule {
      addresses = option (listOf str);
      valid = option str;
      ipv4 = option bool;
      ipv6 = option bool;
    });
    upstreams = option (attrsOf (submodule {
      servers = option (attrsOf (submodule {
        _freeform = attrsOf (oneOf [ bool int str ]);
        backup = option bool;
      }));
      extraConfig = option lines;
    }));
    virtualHosts = option (attrsOf (submodule nginxVhost));
    # Declared by nginx/gitweb.nix and nginx/tailscale-auth.nix; not checked here.
    gitweb = { _freeform = true; };
    tailscaleAuth = { _freeform = true; };
  };

  # ---------------------------------------------------------------- nixos/modules/tasks/filesystems.nix
  # (+ neededForBoot from nixos/modules/system/boot/stage-1.nix, encrypted from luksroot.nix)
  fsNonEmpty = addCheckDesc "non-empty" str (s: match "[ \t\n]*" s == null);
  fsNonEmptyWithoutTrailingSlash = addCheckDesc "non-empty without trailing slash" str
    (s: match "[ \t\n]*" s == null && match ".+/" s == null);
  fileSystem = {
    enable = option bool;
    mountPoint = option fsNonEmptyWithoutTrailingSlash;
    stratis.poolUuid = option (uniq (nullOr str));
    device = option (nullOr fsNonEmpty);
    fsType = option fsNonEmpty;
    options = option (nonEmptyListOf fsNonEmpty);
    depends = option (listOf fsNonEmptyWithoutTrailingSlash);
    label = option (nullOr fsNonEmpty);
    autoFormat = option bool;
    formatOptions = option unspecified;
    autoResize = option bool;
    noCheck = option bool;
    neededForBoot = option bool;
    encrypted = {
      enable = option bool;
      blkDev = option (nullOr str);
      label = option (nullOr str);
      keyFile = option (nullOr str);
    };
    # nixos/modules/tasks/filesystems/overlayfs.nix; not checked here.
    overlay = { _freeform = true; };
  };

  # ---------------------------------------------------------------- nixos/modules/system/boot/systemd/tmpfiles.nix
  tmpfiles = {
    rules = option (listOf str);
    settings = option (attrsOf (attrsOf (attrsOf (submodule {
      type = option str;
      mode = option str;
      user = option str;
      group = option str;
      age = option str;
      argument = option str;
    }))));
    packages = option (listOf package);
  };

  # ---------------------------------------------------------------- nixos/lib/systemd-unit-options.nix
  # (the options of `systemd.services.<name>`: those the generated modules set; other names are not checked)
  unitOption = mkType { name = "systemd option"; description = "systemd option"; check = _: true; };
  serviceOptions = {
    _freeform = true;
    enable = option bool;
    description = option singleLineStr;
    requires = option (listOf str);
    wants = option (listOf str);
    requiredBy = option (listOf str);
    wantedBy = option (listOf str);
    bindsTo = option (listOf str);
    partOf = option (listOf str);
    before = option (listOf str);
    after = option (listOf str);
    unitConfig = option (attrsOf unitOption);
    serviceConfig = option (attrsOf unitOption);
    environment = option (attrsOf (nullOr (oneOf [ str path package ])));
    path = option (listOf (oneOf [ package str ]));
    script = option lines;
  };

  # ---------------------------------------------------------------- nixos/modules/config/users-groups.nix
  # (+ openssh.* from nixos/modules/services/networking/ssh/sshd.nix)
  userOptions = {
    enable = option bool;
    name = option (passwdEntry str);
    description = option (passwdEntry str);
    uid = option (nullOr int);
    isSystemUser = option bool;
    isNormalUser = option bool;
    group = option str;
    extraGroups = option (listOf str);
    home = option (passwdEntry path);
    homeMode = option (types.strMatching "[0-7]{1,5}");
    cryptHomeLuks = option (nullOr str);
    pamMount = option (attrsOf str);
    shell = option (nullOr (either shellPackage (passwdEntry path)));
    ignoreShellProgramCheck = option bool;
    subUidRanges = option (listOf (submodule { startUid = option int; count = option int; }));
    subGidRanges = option (listOf (submodule { startGid = option int; count = option int; }));
    autoSubUidGidRange = option bool;
    createHome = option bool;
    useDefaultShell = option bool;
    hashedPassword = option (nullOr (passwdEntry str));
    password = option (nullOr str);
    hashedPasswordFile = option (nullOr str);
    passwordFile = option (nullOr str);
    initialHashedPassword = option (nullOr (passwdEntry str));
    initialPassword = option (nullOr str);
    packages = option (listOf package);
    expires = option (nullOr (types.strMatching "[[:digit:]]{4}-[[:digit:]]{2}-[[:digit:]]{2}"));
    linger = option (nullOr bool);
    openssh = {
      authorizedKeys = {
        keys = option (listOf singleLineStr);
        keyFiles = option (listOf path);
      };
      authorizedPrincipals = option (listOf singleLineStr);
    };
  };
  groupOptions = {
    name = option (passwdEntry str);
    gid = option (nullOr int);
    members = option (listOf (passwdEntry str));
  };

  # ---------------------------------------------------------------- sops-nix modules/sops/default.nix
  pathNotInStore = mkType {
    name = "pathNotInStore"; description = "path not in the Nix store"; descriptionClass = "noun";
    check = x: isStringLike x && !(lib.hasPrefix "${builtins.storeDir}/" (toString x));
  };
  sopsSecret = {
    name = option str;
    key = option str;
    path = option str;
    format = option (enum [ "yaml" "json" "binary" "dotenv" "ini" ]);
    mode = option str;
    owner = option (nullOr str);
    uid = option (nullOr int);
    group = option (nullOr str);
    gid = option (nullOr int);
    sopsFile = option path;
    sopsFileHash = option str;
    restartUnits = option (listOf str);
    reloadUnits = option (listOf str);
    neededForUsers = option bool;
  };
  # sops-nix modules/sops/templates/default.nix
  sopsTemplate = {
    name = option singleLineStr;
    path = option singleLineStr;
    content = option lines;
    mode = option singleLineStr;
    owner = option (nullOr singleLineStr);
    uid = option (nullOr int);
    group = option (nullOr singleLineStr);
    gid = option (nullOr int);
    file = option path;
    restartUnits = option (listOf str);
    reloadUnits = option (listOf str);
  };
  sops = {
    secrets = option (attrsOf (submodule sopsSecret));
    templates = option (attrsOf (submodule sopsTemplate));
    placeholder = option (attrsOf (mkType {
      name = "coercibleToString"; description = "value that can be coerced to string";
      check = x: isStringLike x || isInt x || isFloat x || isBool x || x == null || (isList x && all (v: !isList v) x);
    }));
    defaultSopsFile = option path;
    defaultSopsFormat = option str;
    defaultSopsKey = option (nullOr str);
    validateSopsFiles = option bool;
    keepGenerations = option ints.unsigned;
    log = option (listOf (enum [ "keyImport" "secretChanges" ]));
    environment = option (attrsOf (either str path));
    package = option package;
    validationPackage = option package;
    useTmpfs = option bool;
    useSystemdActivation = option bool;
    age = {
      keyFile = option (nullOr pathNotInStore);
      plugins = option (listOf package);
      generateKey = option bool;
      sshKeyPaths = option (listOf path);
    };
    gnupg = {
      home = option (nullOr str);
      sshKeyPaths = option (listOf path);
      package = option package;
    };
    # Renamed to gnupg.home / gnupg.sshKeyPaths (mkRenamedOptionModule): still accepted.
    gnupgHome = option (nullOr str);
    sshKeyPaths = option (listOf path);
  };
in
{
  inherit types;

  declarations = {
    _freeform = true;
    services = {
      _freeform = true;
      inherit cloudflared immich nginx;
      immich-public-proxy = immichPublicProxy;
    };
    fileSystems = option (attrsOf (submodule fileSystem));
    inherit sops;
    systemd = {
      _freeform = true;
      inherit tmpfiles;
      services = option (attrsOf (submodule serviceOptions));
    };
    users = {
      _freeform = true;
      users = option (attrsOf (submodule userOptions));
      groups = option (attrsOf (submodule groupOptions));
    };
  };
}
