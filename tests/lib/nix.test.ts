import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import fc from "fast-check";
import {
  NixExpr,
  NixValue,
  isNixIdentifier,
  nixAttrPath,
  nixExpr,
  nixFromJson,
  nixToJson,
  renderModule,
  renderModuleJson,
  renderNix,
  renderNixString,
} from "../../lib/nix";

/** Runs nix-instantiate with an argument list; returns stdout or throws with its stderr. */
function nixInstantiate(args: string[]): string {
  const result = spawnSync("nix-instantiate", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`nix-instantiate ${args.slice(0, 3).join(" ")} failed (${result.status}):\n${result.stderr}`);
  }
  return result.stdout;
}

/** Evaluates Nix source strictly and returns its JSON value. */
function evalNix(source: string): unknown {
  return JSON.parse(nixInstantiate(["--eval", "--strict", "--json", "--expr", source]));
}

describe("renderNix: exact output", () => {
  // Each row proves one escaping or layout rule; the expected text is what a person would write by hand.
  const cases: Array<[string, NixValue, string]> = [
    ["empty string", "", '""'],
    ["plain string", "immich", '"immich"'],
    ["double quote", 'say "hi"', '"say \\"hi\\""'],
    ["backslash", "C:\\dir\\", '"C:\\\\dir\\\\"'],
    ["interpolation is escaped", "${pkgs.hello}", '"\\${pkgs.hello}"'],
    ["lone dollar stays literal", "$HOME costs $5", '"$HOME costs $5"'],
    ["dollar before interpolation", "$${x}", '"$\\${x}"'],
    ["dollar at end", "a$", '"a$"'],
    ["indented-string quote is not special", "''x''", "\"''x''\""],
    ["newline, tab, carriage return", "a\nb\tc\rd", '"a\\nb\\tc\\rd"'],
    ["unicode passes through", "café 🐱 日本", '"café 🐱 日本"'],
    ["zero", 0, "0"],
    ["negative zero renders as zero", -0, "0"],
    ["positive integer", 2283, "2283"],
    ["negative integer", -42, "-42"],
    ["largest safe integer", Number.MAX_SAFE_INTEGER, "9007199254740991"],
    ["true", true, "true"],
    ["false", false, "false"],
    ["null", null, "null"],
    ["empty list", [], "[ ]"],
    ["empty attrset", {}, "{ }"],
    ["list", [1, "a", true], '[\n  1\n  "a"\n  true\n]'],
    ["negative integer in a list is parenthesised", [1, -5], "[\n  1\n  (-5)\n]"],
    ["keys sorted, bare identifiers", { b: 1, a: 2, "with-dash_and'quote": 3 }, "{\n  a = 2;\n  b = 1;\n  with-dash_and'quote = 3;\n}"],
    ["path key is quoted", { "/var/lib/immich": "d" }, '{\n  "/var/lib/immich" = "d";\n}'],
    ["dotted key is quoted", { "immich.skylab.local": {} }, '{\n  "immich.skylab.local" = { };\n}'],
    ["keyword keys are quoted", { if: 1, or: 2, inherit: 3 }, '{\n  "if" = 1;\n  "inherit" = 3;\n  "or" = 2;\n}'],
    ["keys starting with a digit or empty are quoted", { "1a": 1, "": 2 }, '{\n  "" = 2;\n  "1a" = 1;\n}'],
    ["key with interpolation is escaped", { "${x}": 1 }, '{\n  "\\${x}" = 1;\n}'],
    ["negative integer as attribute value is bare", { a: -1 }, "{\n  a = -1;\n}"],
    [
      "nested lists and attrsets indent by two spaces",
      { services: { immich: { enable: true, ports: [2283, [1]] } } },
      "{\n  services = {\n    immich = {\n      enable = true;\n      ports = [\n        2283\n        [\n          1\n        ]\n      ];\n    };\n  };\n}",
    ],
    ["list of attrsets", [{ a: 1 }, {}], "[\n  {\n    a = 1;\n  }\n  { }\n]"],
    [
      "raw expression passes through",
      { EnvironmentFile: nixExpr('config.sops.templates."immich.env".path') },
      '{\n  EnvironmentFile = config.sops.templates."immich.env".path;\n}',
    ],
    [
      "plain reference in a list is not parenthesised",
      [nixExpr('config.sops.placeholder."immich/db_password"')],
      '[\n  config.sops.placeholder."immich/db_password"\n]',
    ],
    ["application in a list is parenthesised", [nixExpr("lib.mkForce true")], "[\n  (lib.mkForce true)\n]"],
  ];

  test.each(cases)("%s", (_name, value, expected) => {
    expect(renderNix(value)).toBe(expected);
  });

  test("indent shifts every line after the first, so the text can follow `key = `", () => {
    expect(renderNix({ a: [1] }, 2)).toBe("{\n      a = [\n        1\n      ];\n    }");
  });

  test("indentWidth sets the spaces per level, and combines with indent", () => {
    expect(renderNix({ a: [1] }, 0, { indentWidth: 4 })).toBe("{\n    a = [\n        1\n    ];\n}");
    expect(renderNix({ a: 1 }, 1, { indentWidth: 3 })).toBe("{\n      a = 1;\n   }");
  });

  test("the same input renders to the same bytes regardless of key insertion order", () => {
    const first = renderNix({ z: { y: 1, x: 2 }, a: [{ d: 1, c: 2 }] });
    const second = renderNix({ a: [{ c: 2, d: 1 }], z: { x: 2, y: 1 } });
    expect(second).toBe(first);
  });
});

describe("renderNix: rejections", () => {
  test.each<[string, NixValue, RegExp]>([
    ["float", 1.5, /must be integers \(got 1\.5\)/],
    ["NaN", NaN, /finite integers \(got NaN\)/],
    ["infinity", Infinity, /finite integers \(got Infinity\)/],
    ["negative infinity", -Infinity, /finite integers \(got -Infinity\)/],
    ["unsafe integer", 2 ** 53, /within ±\(2\^53 - 1\)/],
    ["float nested in an attrset", { a: [0.1] }, /must be integers \(got 0\.1\)/],
    ["NUL in a string", "a\0b", /cannot contain NUL/],
    ["NUL in a key", { "a\0": 1 }, /cannot contain NUL/],
    ["lone surrogate", "a\uD800b", /well-formed Unicode/],
  ])("%s", (_name, value, message) => {
    expect(() => renderNix(value)).toThrow(message);
  });

  test("non-plain objects are rejected instead of rendered as their fields", () => {
    expect(() => renderNix(new Date(0) as unknown as NixValue)).toThrow(/Cannot render a Date object/);
  });

  test("undefined (a missing optional field) is rejected", () => {
    expect(() => renderNix({ a: undefined as unknown as NixValue })).toThrow(/Cannot render a undefined/);
  });

  test("indent must be a non-negative integer", () => {
    expect(() => renderNix(1, -1)).toThrow(/`indent` must be a non-negative integer/);
  });

  test.each([0, 1.5, 17])("indentWidth %s is refused", (width) => {
    expect(() => renderNix({}, 0, { indentWidth: width })).toThrow(`\`indentWidth\` must be an integer from 1 to 16 (got ${width})`);
  });

  test("nixExpr rejects empty source", () => {
    expect(() => nixExpr("  ")).toThrow(/must not be empty/);
  });

  test("a NixExpr cannot be built without nixExpr", () => {
    expect(() => new NixExpr("x", Symbol("forged") as never)).toThrow(/create raw expressions with nixExpr/);
  });
});

describe("the JSON form (how a body crosses the engine)", () => {
  test("a raw expression becomes { $nixExpr: text } and comes back as a NixExpr; everything else stays itself", () => {
    const value = { a: [1, "x", null, true], b: nixExpr("config.x.path"), c: { "/var/lib/immich": { options: ["noatime"] } } };
    const json = nixToJson(value);
    expect(json).toStrictEqual({ a: [1, "x", null, true], b: { $nixExpr: "config.x.path" }, c: { "/var/lib/immich": { options: ["noatime"] } } });
    const back = nixFromJson(JSON.parse(JSON.stringify(json))) as Record<string, NixValue>;
    expect(back.b).toBeInstanceOf(NixExpr);
    expect(renderNix(back)).toBe(renderNix(value));
  });

  test("an attrset that would read back as an expression cannot cross", () => {
    expect(() => nixToJson({ a: { $nixExpr: "x" } })).toThrow(/would read back as a raw expression/);
  });

  test.each<[string, unknown]>([
    ["an attrset with $nixExpr and another key", { $nixExpr: "x", y: 1 }],
    ["$nixExpr with a value that is not a string", { $nixExpr: 1 }],
  ])("%s stays an attrset both ways", (_name, value) => {
    expect(nixToJson(value as NixValue)).toStrictEqual(value);
    expect(nixFromJson(value)).toStrictEqual(value);
  });

  test("an own key __proto__ stays an attribute both ways", () => {
    const value = JSON.parse('{"__proto__":{"a":1}}') as NixValue;
    expect(renderNix(nixFromJson(nixToJson(value)))).toBe("{\n  __proto__ = {\n    a = 1;\n  };\n}");
  });

  test("what is not Nix data is refused", () => {
    expect(() => nixFromJson({ a: undefined })).toThrow(/a undefined is not Nix data/);
  });
});

describe("helpers", () => {
  test.each<[string, boolean]>([
    ["enable", true],
    ["_private", true],
    ["with-dash'", true],
    ["if", false],
    ["rec", false],
    ["1st", false],
    ["-x", false],
    ["a.b", false],
    ["", false],
  ])("isNixIdentifier(%j) is %s", (key, expected) => {
    expect(isNixIdentifier(key)).toBe(expected);
  });

  test("nixAttrPath quotes only the segments that need it", () => {
    expect(nixAttrPath(["services", "nginx", "virtualHosts", "immich.skylab.local", "let"])).toBe(
      'services.nginx.virtualHosts."immich.skylab.local"."let"',
    );
    expect(() => nixAttrPath([])).toThrow(/at least one segment/);
  });

  test("renderNixString matches renderNix for strings", () => {
    expect(renderNixString('a"${b}')).toBe(renderNix('a"${b}'));
  });
});

describe("renderModule", () => {
  const module = {
    generator: "ImmichService",
    header: ["Immich server and its database.", "", "Secrets come from sops-nix templates."],
    body: {
      services: { immich: { enable: true, port: 2283, mediaLocation: "/var/lib/immich" } },
      systemd: { services: { immich: { serviceConfig: { EnvironmentFile: nixExpr('config.sops.templates."immich.env".path') } } } },
    },
  };
  const expected = [
    "# Generated by skylab-immich (ImmichService). Do not edit: changes are overwritten by `pulumi up`.",
    "# Immich server and its database.",
    "#",
    "# Secrets come from sops-nix templates.",
    "{ config, lib, pkgs, ... }:",
    "{",
    "  services = {",
    "    immich = {",
    "      enable = true;",
    '      mediaLocation = "/var/lib/immich";',
    "      port = 2283;",
    "    };",
    "  };",
    "  systemd = {",
    "    services = {",
    "      immich = {",
    "        serviceConfig = {",
    '          EnvironmentFile = config.sops.templates."immich.env".path;',
    "        };",
    "      };",
    "    };",
    "  };",
    "}",
    "",
  ].join("\n");

  test("writes the header, the module function and the body, ending with a newline", () => {
    expect(renderModule(module)).toBe(expected);
  });

  test("with another indentWidth only the layout changes", () => {
    expect(renderModule({ generator: "X", body: { a: { b: true } } }, { indentWidth: 4 })).toBe(
      "# Generated by skylab-immich (X). Do not edit: changes are overwritten by `pulumi up`.\n{ config, lib, pkgs, ... }:\n{\n    a = {\n        b = true;\n    };\n}\n",
    );
  });

  test("renderModuleJson renders the JSON form of a module as renderModule renders the module", () => {
    expect(renderModuleJson({ generator: module.generator, body: nixToJson(module.body) })).toBe(
      renderModule({ generator: module.generator, body: module.body }),
    );
    expect(() => renderModuleJson({ generator: "X", body: [1] as never })).toThrow(/the body of the X module must be an attrset/);
  });

  test("without header lines only the generated-file line precedes the function", () => {
    expect(renderModule({ generator: "X", body: {} })).toBe(
      "# Generated by skylab-immich (X). Do not edit: changes are overwritten by `pulumi up`.\n{ config, lib, pkgs, ... }:\n{ }\n",
    );
  });

  test.each([
    ["a newline in the generator (it would end the comment early)", { generator: "A\nB", body: {} }, /`generator` must be a non-empty single line/],
    ["an empty generator (the header must say who writes the file)", { generator: "", body: {} }, /`generator` must be a non-empty single line/],
    ["a carriage return in a header line (it would end the comment early)", { generator: "A", header: "x\ry", body: {} }, /`header` lines must not contain/],
  ])("rejects %s", (_name, spec, message) => {
    expect(() => renderModule(spec)).toThrow(message);
  });

  describe("with the real nix-instantiate", () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "skylab-nix-test-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test("the module parses and evaluates as a function of { config, lib, pkgs }", () => {
      const file = join(dir, "immich.nix");
      writeFileSync(file, renderModule(module));
      expect(() => nixInstantiate(["--parse", file])).not.toThrow();
      const config = '{ sops.templates."immich.env".path = "/run/secrets/rendered/immich.env"; }';
      const evaluated = evalNix(`(import ${renderNix(file)} { config = ${config}; lib = {}; pkgs = {}; })`);
      expect(evaluated).toEqual({
        services: { immich: { enable: true, port: 2283, mediaLocation: "/var/lib/immich" } },
        systemd: {
          services: { immich: { serviceConfig: { EnvironmentFile: "/run/secrets/rendered/immich.env" } } },
        },
      });
    });

    test("a module without references evaluates with empty arguments", () => {
      const file = join(dir, "plain.nix");
      writeFileSync(file, renderModule({ generator: "Plain", body: { networking: { firewall: { allowedTCPPorts: [80, 443] } } } }));
      expect(nixInstantiate(["--eval", "--strict", "--json", "--expr", `(import ${renderNix(file)} { config = {}; lib = {}; pkgs = {}; })`])).toBe(
        '{"networking":{"firewall":{"allowedTCPPorts":[80,443]}}}',
      );
    });
  });
});

describe("renderNix evaluated by the real nix-instantiate", () => {
  test("positive control: an unescaped interpolation would not round-trip", () => {
    // Proves the round-trip comparison can fail: the naive rendering evaluates to something else.
    const naive = '"${builtins.toString 1}"';
    expect(evalNix(naive)).toBe("1");
    expect(evalNix(renderNix("${builtins.toString 1}"))).toBe("${builtins.toString 1}");
  });

  test("raw expressions inside lists keep their meaning", () => {
    expect(evalNix(renderNix([nixExpr("builtins.toString 1"), nixExpr("builtins.length [ 1 2 ]"), -3]))).toEqual(["1", 2, -3]);
  });

  // Characters that matter to Nix's lexer, plus some that matter nowhere, so they meet each other often.
  const hostileChar = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('"', "\\", "$", "{", "}", "\n", "'", "\t", "\r", "`", "#", ";", "=", " ", ".", "/", "\x01", "\x7f") },
    { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => c !== "\0") },
    { weight: 1, arbitrary: fc.constantFrom("a", "z", "_", "-", "0") },
  );
  const hostileString = fc.oneof(
    fc.string({ unit: hostileChar, maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 8 }).filter((s) => !s.includes("\0")),
    fc.constantFrom("${", "$${", "''", "''${", "\\${", "if", "or", "rec", "__proto__", "a.b", "/var/lib/immich"),
  );
  const { value: nixJson } = fc.letrec<{ value: NixValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      hostileString,
      fc.integer({ min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }),
      fc.constantFrom(0, -1, 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(hostileString, tie("value"), { maxKeys: 4 }),
    ),
  }));

  test("evaluating the rendering gives back the input (batched: one nix-instantiate per run of 25 values)", () => {
    fc.assert(
      fc.property(fc.array(nixJson, { minLength: 1, maxLength: 25 }), (values) => {
        expect(evalNix(renderNix(values))).toEqual(values);
      }),
      { seed: 20240611, numRuns: 80 },
    );
  });

  test("through the JSON form and back, values render to the same bytes (with NixExprs among them)", () => {
    const withExpressions = fc.letrec<{ value: NixValue }>((tie) => ({
      value: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        nixJson,
        fc.constantFrom(nixExpr("config.x.path"), nixExpr('config.sops.placeholder."a/b"'), nixExpr("lib.mkForce true")),
        fc.array(tie("value"), { maxLength: 3 }),
        fc.dictionary(hostileString, tie("value"), { maxKeys: 3 }),
      ),
    })).value;
    fc.assert(
      fc.property(withExpressions, (value) => {
        expect(renderNix(nixFromJson(JSON.parse(JSON.stringify(nixToJson(value)))))).toBe(renderNix(value));
      }),
      { seed: 20240611, numRuns: 300 },
    );
  });

  test("rendering is deterministic and pure (same input, same bytes)", () => {
    fc.assert(
      fc.property(nixJson, (value) => {
        const copy = JSON.parse(JSON.stringify(value)) as NixValue;
        expect(renderNix(copy)).toBe(renderNix(value));
        expect(copy).toEqual(value);
      }),
      { seed: 20240611, numRuns: 200 },
    );
  });
});
