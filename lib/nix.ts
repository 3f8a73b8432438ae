/**
 * The one renderer from TypeScript values to Nix text.
 *
 * Every generated Nix file goes through {@link renderNix} / {@link renderModule}, so quoting lives in one
 * place and is proven by property tests that evaluate the output with the real `nix-instantiate --eval
 * --json` and compare it with the input (tests/lib/nix.test.ts). Until then a module is data: it crosses
 * the engine in its JSON form ({@link nixToJson}), and the provider that writes it renders it
 * ({@link renderModuleJson}).
 */

const NIX_KEYWORDS: ReadonlySet<string> = new Set([
  "if",
  "then",
  "else",
  "assert",
  "with",
  "let",
  "in",
  "rec",
  "inherit",
  "or",
]);

const NIX_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_'-]*$/;

/** Only this module can build a {@link NixExpr}: the brand that keeps data out of raw expressions. */
const constructionToken: unique symbol = Symbol("NixExpr construction token");

/**
 * A raw Nix expression, emitted verbatim. Create it only with {@link nixExpr}.
 *
 * Raw expressions are for references written by the program itself, such as
 * `config.sops.placeholder."immich/db_password"`; never build one from user data or configuration:
 * values go in as plain strings, which {@link renderNix} escapes.
 */
export class NixExpr {
  readonly text: string;

  /** Not for direct use: call {@link nixExpr}, which holds the module-private token. */
  constructor(text: string, token: typeof constructionToken) {
    if (token !== constructionToken) {
      throw new Error("NixExpr: create raw expressions with nixExpr(text).");
    }
    this.text = text;
  }
}

/** A value that {@link renderNix} can turn into Nix text. */
export type NixValue = string | number | boolean | null | NixValue[] | NixAttrs | NixExpr;

/** A Nix attribute set; keys are rendered sorted, bare when they are identifiers and quoted otherwise. */
export interface NixAttrs {
  [key: string]: NixValue;
}

/**
 * Wraps program-written Nix source (a reference such as `config.sops.templates."immich.env".path`) so
 * that {@link renderNix} emits it verbatim. Not for user data: a string from configuration must stay a
 * plain string so that it is escaped.
 */
export function nixExpr(text: string): NixExpr {
  if (text.trim() === "") {
    throw new Error("nixExpr: the expression must not be empty: pass the Nix source of a reference.");
  }
  if (text.includes("\0")) {
    throw new Error("nixExpr: the expression must not contain NUL: Nix source cannot hold it.");
  }
  return new NixExpr(text, constructionToken);
}

/** True when `key` can be written bare as an attribute name (an identifier that is not a keyword). */
export function isNixIdentifier(key: string): boolean {
  return NIX_IDENTIFIER.test(key) && !NIX_KEYWORDS.has(key);
}

/**
 * Renders `value` as a double-quoted Nix string, escaping `\`, `"`, `${`, newline, tab and carriage
 * return. Throws on NUL (Nix strings are C strings and would silently truncate) and on lone UTF-16
 * surrogates (they have no UTF-8 encoding and would silently become U+FFFD).
 */
export function renderNixString(value: string): string {
  if (value.includes("\0")) {
    throw new Error(
      `Nix strings cannot contain NUL (got ${JSON.stringify(value)}): Nix would truncate the string there.`,
    );
  }
  if (/[\uD800-\uDFFF]/u.test(value)) {
    throw new Error(
      `Nix strings must be well-formed Unicode (got a lone surrogate in ${JSON.stringify(value)}): fix the source of this string.`,
    );
  }
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    switch (ch) {
      case "\\":
        out += "\\\\";
        break;
      case '"':
        out += '\\"';
        break;
      case "\n":
        out += "\\n";
        break;
      case "\t":
        out += "\\t";
        break;
      case "\r":
        out += "\\r";
        break;
      case "$":
        // Only `${` starts an interpolation; a lone `$` (as in `$HOME`) is literal and stays readable.
        out += value[i + 1] === "{" ? "\\$" : "$";
        break;
      default:
        out += ch;
    }
  }
  return out + '"';
}

/** Renders an attribute name: bare when it is an identifier, quoted (same escaping as strings) otherwise. */
export function renderNixKey(key: string): string {
  return isNixIdentifier(key) ? key : renderNixString(key);
}

/**
 * Renders an attribute path such as `services.immich.enable`, quoting the segments that need it:
 * `nixAttrPath(["services", "nginx", "virtualHosts", "immich.skylab.local"])` →
 * `services.nginx.virtualHosts."immich.skylab.local"`.
 */
export function nixAttrPath(segments: readonly string[]): string {
  if (segments.length === 0) {
    throw new Error("nixAttrPath: the path must have at least one segment.");
  }
  return segments.map(renderNixKey).join(".");
}

// A raw expression that is a plain (possibly selected) reference binds tighter than list elements, so it
// can stand in a list unparenthesised; anything else (an application `f x`, `a + b`) is wrapped.
const SIMPLE_REFERENCE = /^[A-Za-z_][A-Za-z0-9_'-]*(\.([A-Za-z_][A-Za-z0-9_'-]*|"[^"\\$]*"))*$/;

type Context = "top" | "list-element";

function renderInteger(value: number, context: Context): string {
  if (!Number.isFinite(value)) {
    throw new Error(`Nix values must be finite integers (got ${value}): Nix has no NaN or infinity.`);
  }
  if (!Number.isInteger(value)) {
    throw new Error(
      `Nix values must be integers (got ${value}): floats are not supported by this renderer; round the value or use a string.`,
    );
  }
  if (!Number.isSafeInteger(value)) {
    throw new Error(
      `Nix integers must be within ±(2^53 - 1) (got ${value}): larger numbers have lost precision in JavaScript.`,
    );
  }
  // Nix has no negative literals: `-5` is unary minus, which a list element cannot hold unparenthesised
  // (`[ 1 -5 ]` is a syntax error).
  const text = String(Object.is(value, -0) ? 0 : value);
  return value < 0 && context === "list-element" ? `(${text})` : text;
}

function render(value: NixValue, level: number, context: Context, step: string): string {
  if (value === null) return "null";
  if (value instanceof NixExpr) {
    return context === "list-element" && !SIMPLE_REFERENCE.test(value.text) ? `(${value.text})` : value.text;
  }
  switch (typeof value) {
    case "string":
      return renderNixString(value);
    case "number":
      return renderInteger(value, context);
    case "boolean":
      return value ? "true" : "false";
    case "object":
      break;
    default:
      throw new Error(`Cannot render a ${typeof value} as Nix: use a string, integer, boolean, null, list or attrset.`);
  }
  const inner = step.repeat(level + 1);
  const closing = step.repeat(level);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[ ]";
    const items = value.map((item) => `${inner}${render(item, level + 1, "list-element", step)}\n`);
    return `[\n${items.join("")}${closing}]`;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new Error(
      `Cannot render a ${prototype?.constructor?.name ?? "non-plain"} object as Nix: use a plain object (an attrset).`,
    );
  }
  // Sorted by UTF-16 code units so the same input always yields the same bytes.
  const keys = Object.keys(value).sort();
  if (keys.length === 0) return "{ }";
  const attrs = keys.map((key) => `${inner}${renderNixKey(key)} = ${render(value[key], level + 1, "top", step)};\n`);
  return `{\n${attrs.join("")}${closing}}`;
}

/** How the text is laid out; the meaning never depends on it. */
export interface RenderOptions {
  /** Spaces per nesting level. Default 2. */
  indentWidth?: number;
}

function indentStep(options: RenderOptions): string {
  const width = options.indentWidth ?? 2;
  if (!Number.isInteger(width) || width < 1 || width > 16) {
    throw new Error(`renderNix: \`indentWidth\` must be an integer from 1 to 16 (got ${width}).`);
  }
  return " ".repeat(width);
}

/**
 * Renders a TypeScript value as Nix text, indented (2 spaces per level unless `options` says otherwise)
 * and deterministic (attribute keys sorted).
 *
 * - strings: double-quoted, see {@link renderNixString};
 * - numbers: safe integers only (floats, NaN, infinities and unsafe integers throw);
 * - lists: `[ ]`, or one element per line; attrsets: `{ }`, or one `key = value;` per line;
 * - {@link NixExpr}: verbatim (parenthesised inside a list unless it is a plain reference).
 *
 * @param indent nesting level of the line the value starts on; lines after the first are indented
 *   relative to it, so the result can be placed after `key = ` in surrounding text.
 */
export function renderNix(value: NixValue, indent = 0, options: RenderOptions = {}): string {
  if (!Number.isInteger(indent) || indent < 0) {
    throw new Error(`renderNix: \`indent\` must be a non-negative integer (got ${indent}).`);
  }
  return render(value, indent, "top", indentStep(options));
}

/** What {@link renderModule} needs to write one generated NixOS module file. */
export interface NixModule {
  /** Who generates the file, named in the header, e.g. `ImmichService`. One line. */
  generator: string;
  /** Optional lines that say what the module is for, written as comments under the generated-file line. */
  header?: string | readonly string[];
  /** The module's attribute set (options it sets), e.g. `{ services: { immich: { enable: true } } }`. */
  body: NixAttrs;
}

/**
 * Renders a whole NixOS module file: a header saying it is generated and by what, the module function
 * `{ config, lib, pkgs, ... }:` and the rendered body, ending with a newline.
 */
export function renderModule(module: NixModule, options: RenderOptions = {}): string {
  const { generator, body } = module;
  // A control character in a comment line would end the comment and leak text into the Nix source.
  if (generator.trim() === "" || /[\u0000-\u001f\u007f]/.test(generator)) {
    throw new Error(
      `renderModule: \`generator\` must be a non-empty single line without control characters (got ${JSON.stringify(generator)}).`,
    );
  }
  const headerLines =
    module.header === undefined
      ? []
      : (typeof module.header === "string" ? [module.header] : [...module.header]).flatMap((line) => line.split("\n"));
  for (const line of headerLines) {
    if (/[\u0000-\u001f\u007f]/.test(line)) {
      throw new Error(
        `renderModule: \`header\` lines must not contain control characters (got ${JSON.stringify(line)}).`,
      );
    }
  }
  const comments = [
    `# Generated by skylab-immich (${generator}). Do not edit: changes are overwritten by \`pulumi up\`.`,
    ...headerLines.map((line) => (line === "" ? "#" : `# ${line}`)),
  ];
  return `${comments.join("\n")}\n{ config, lib, pkgs, ... }:\n${renderNix(body, 0, options)}\n`;
}

/**
 * A {@link NixValue} as plain JSON data: the form in which a module body crosses the engine (component and
 * resource inputs, the state, policies, the provider). A {@link NixExpr} becomes `{ "$nixExpr": text }`;
 * everything else stays as it is, so `body.fileSystems["/var/lib/immich"].options` reads the same in both.
 */
export type NixJson = string | number | boolean | null | NixJson[] | NixJsonAttrs;

export interface NixJsonAttrs {
  [key: string]: NixJson;
}

/** The one key of the object that stands for a {@link NixExpr} in {@link NixJson}. */
export const NIX_EXPR_KEY = "$nixExpr";

function isExpressionShape(value: object): value is { [NIX_EXPR_KEY]: string } {
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === NIX_EXPR_KEY && typeof (value as Record<string, unknown>)[NIX_EXPR_KEY] === "string";
}

/** `value` as {@link NixJson}. Throws on an attrset that would read back as an expression. */
export function nixToJson(value: NixAttrs): NixJsonAttrs;
export function nixToJson(value: NixValue): NixJson;
export function nixToJson(value: NixValue): NixJson {
  if (value instanceof NixExpr) return { [NIX_EXPR_KEY]: value.text };
  if (Array.isArray(value)) return value.map(nixToJson);
  if (value === null || typeof value !== "object") return value;
  if (isExpressionShape(value)) {
    throw new Error(
      `nixToJson: an attrset whose only attribute is ${JSON.stringify(NIX_EXPR_KEY)} with a string would read back as a raw expression: rename the attribute.`,
    );
  }
  const attrs: NixJsonAttrs = {};
  for (const key of Object.keys(value)) setOwn(attrs, key, nixToJson(value[key]));
  return attrs;
}

/** {@link NixJson} (for example a body read back from the engine) as the value {@link renderNix} renders. */
export function nixFromJson(json: unknown): NixValue {
  if (json === null || typeof json === "string" || typeof json === "number" || typeof json === "boolean") return json;
  if (Array.isArray(json)) return json.map(nixFromJson);
  if (typeof json !== "object") {
    throw new Error(`nixFromJson: a ${typeof json} is not Nix data: use a string, integer, boolean, null, list or attrset.`);
  }
  if (isExpressionShape(json)) return nixExpr(json[NIX_EXPR_KEY]);
  const attrs: NixAttrs = {};
  for (const [key, item] of Object.entries(json)) setOwn(attrs, key, nixFromJson(item));
  return attrs;
}

/** `target[key] = value` as an own property, also for the key "__proto__" (a plain assignment sets the prototype). */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A {@link NixModule} whose body is {@link NixJsonAttrs}: a generated module as the engine carries it. */
export interface NixModuleJson {
  generator: string;
  body: NixJsonAttrs;
  /**
   * Leaf paths of `body` that the host's own configuration defines with the same value (lib/ownerDefinitions.ts):
   * rendered as `lib.mkDefault`, so the owner's definition stays the one in force and nothing is defined twice
   * (a list would otherwise be concatenated, a `lines` string joined).
   */
  adopted?: string[][];
}

/** Renders a module carried as {@link NixModuleJson}: the text written on the host, and what drift is judged by. */
export function renderModuleJson(module: NixModuleJson, options: RenderOptions = {}): string {
  const body = nixFromJson(module.body);
  if (body === null || typeof body !== "object" || Array.isArray(body) || body instanceof NixExpr) {
    throw new Error(`renderModuleJson: the body of the ${module.generator} module must be an attrset (got ${JSON.stringify(module.body)}).`);
  }
  const adopted = module.adopted ?? [];
  for (const path of adopted) {
    let parent: NixAttrs = body;
    for (const key of path.slice(0, -1)) {
      const next = Object.prototype.hasOwnProperty.call(parent, key) ? parent[key] : undefined;
      if (next === null || typeof next !== "object" || Array.isArray(next) || next instanceof NixExpr) {
        throw new Error(`renderModuleJson: the adopted path ${nixAttrPath(path)} is not in the body of the ${module.generator} module.`);
      }
      parent = next;
    }
    const leaf = path[path.length - 1];
    if (!Object.prototype.hasOwnProperty.call(parent, leaf)) {
      throw new Error(`renderModuleJson: the adopted path ${nixAttrPath(path)} is not in the body of the ${module.generator} module.`);
    }
    setOwn(parent, leaf, nixExpr(`lib.mkDefault ${renderNix(parent[leaf], path.length, options)}`));
  }
  const header = adopted.length
    ? ["Adopted: the host's own configuration defines these with the same value, and its definitions are the ones",
      "in force; skylab-immich's are defaults (lib.mkDefault) that apply only where the owner's are removed.",
      ...adopted.map((path) => `  ${nixAttrPath(path)}`)]
    : undefined;
  return renderModule({ generator: module.generator, body, header }, options);
}
