#!/usr/bin/env node
// Stand-in Immich API for the sandbox SKYLAB (see README.md beside this file). NOT Immich: a small HTTP
// server that answers the part of Immich's API the program uses, checks every request against Immich's
// published API as the project writes it down (contract.json beside this file, generated from contract.ts),
// rejects wrong requests the way Immich's NestJS server does, and keeps state like the real server (users,
// libraries, scans that take time and find the image files under the import paths, asset statistics).
//
// Plain JavaScript without dependencies: it runs inside the sandbox with the machine's /usr/bin/node, where
// the repository (and its node_modules) is hidden.
"use strict";

const http = require("http");
const { connectDatabase } = require("./database");
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

// ---------------------------------------------------------------------------------------------------------
// The contract: OpenAPI 3.0 request checking with class-validator-like messages
// ---------------------------------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

class Contract {
  constructor(spec) {
    this.spec = spec;
    this.base = (spec.servers && spec.servers[0] && spec.servers[0].url) || "";
    this.routes = [];
    for (const [template, operations] of Object.entries(spec.paths)) {
      const names = [];
      const source = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{([^}]+)\}/g, (_m, name) => {
        names.push(name);
        return "([^/]+)";
      });
      this.routes.push({ template, names, regex: new RegExp(`^${source}$`), operations });
    }
  }

  resolve(schema) {
    let current = schema;
    while (current && current.$ref) {
      const parts = current.$ref.replace(/^#\//, "").split("/");
      current = parts.reduce((node, key) => node[key], this.spec);
    }
    return current;
  }

  /** The route and operation for a request path (below the server base, e.g. /api), or what is missing. */
  match(method, pathname) {
    if (!pathname.startsWith(`${this.base}/`)) return { found: "none" };
    const rest = pathname.slice(this.base.length);
    for (const route of this.routes) {
      const m = route.regex.exec(rest);
      if (!m) continue;
      const operation = route.operations[method.toLowerCase()];
      if (!operation) return { found: "path" };
      const params = {};
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1])));
      return { found: "operation", template: route.template, operation, params };
    }
    return { found: "none" };
  }

  /**
   * Errors in `value` against `schema`, worded like class-validator (what Immich's ValidationPipe returns).
   * `strip` collects properties the schema does not know: Immich's pipe (`whitelist: true`) drops them.
   */
  validate(schema, value, name, errors, strip) {
    const s = this.resolve(schema);
    if (!s) return;
    if (value === null) {
      if (!s.nullable) errors.push(`${name} should not be null`);
      return;
    }
    if (s.allOf) {
      for (const part of s.allOf) this.validate(part, value, name, errors, strip);
      return;
    }
    if (s.enum && !s.enum.includes(value)) {
      errors.push(`${name} must be one of the following values: ${s.enum.join(", ")}`);
      return;
    }
    switch (s.type) {
      case "string":
        if (typeof value !== "string") return void errors.push(s.format === "uuid" ? `${name} must be a UUID` : `${name} must be a string`);
        if (s.format === "uuid" && !UUID.test(value)) errors.push(`${name} must be a UUID`);
        if (s.format === "date-time" && !ISO_DATE.test(value)) errors.push(`${name} must be a valid ISO 8601 date string`);
        return;
      case "integer":
        if (!Number.isInteger(value)) errors.push(`${name} must be an integer number`);
        return;
      case "number":
        if (typeof value !== "number" || !Number.isFinite(value)) errors.push(`${name} must be a number conforming to the specified constraints`);
        return;
      case "boolean":
        if (typeof value !== "boolean") errors.push(`${name} must be a boolean value`);
        return;
      case "array": {
        if (!Array.isArray(value)) return void errors.push(`${name} must be an array`);
        const itemErrors = [];
        value.forEach((item, i) => this.validate(s.items || {}, item, `${name}[${i}]`, itemErrors, strip));
        // class-validator reports arrays of scalars as "each value in <name> must be ...".
        const scalar = this.resolve(s.items || {});
        if (scalar && scalar.type !== "object") {
          for (const e of new Set(itemErrors.map((m) => m.replace(/^\S+\[\d+\] /, "")))) errors.push(`each value in ${name} ${e}`);
        } else {
          errors.push(...itemErrors);
        }
        return;
      }
      case "object":
      default: {
        if (s.type !== "object" && !s.properties) return;
        if (typeof value !== "object" || Array.isArray(value)) return void errors.push(`${name} must be an object`);
        const properties = s.properties || {};
        for (const key of s.required || []) {
          if (value[key] === undefined) {
            // A missing required field fails the field's own type check, as with class-validator.
            const before = errors.length;
            this.validate(properties[key] || {}, Symbol("missing"), key, errors, strip);
            if (errors.length === before) errors.push(`${key} should not be empty`);
          }
        }
        for (const [key, item] of Object.entries(value)) {
          if (item === undefined) continue;
          if (!(key in properties)) {
            if (s.additionalProperties === false) errors.push(`property ${key} should not exist`);
            else if (strip) strip.push(name === "body" ? key : `${name}.${key}`);
            continue;
          }
          this.validate(properties[key], item, name === "body" ? key : `${name}.${key}`, errors, strip);
        }
      }
    }
  }

  /** Checks path and query parameters and the body of a matched request; returns the errors and stripped keys. */
  check(match, query, body, hasBody) {
    const errors = [];
    const stripped = [];
    const op = match.operation;
    for (const param of op.parameters || []) {
      if (param.in === "path") {
        this.validate(param.schema, match.params[param.name], param.name, errors);
      } else if (param.in === "query") {
        const raw = query.get(param.name);
        if (raw === null) {
          if (param.required) errors.push(`${param.name} should not be empty`);
          continue;
        }
        const schema = this.resolve(param.schema);
        const value = schema.type === "boolean" ? (raw === "true" ? true : raw === "false" ? false : raw)
          : schema.type === "integer" || schema.type === "number" ? Number(raw) : raw;
        this.validate(schema, value, param.name, errors);
      }
    }
    const known = new Set((op.parameters || []).filter((p) => p.in === "query").map((p) => p.name));
    for (const key of query.keys()) if (!known.has(key)) stripped.push(`?${key}`);
    const requestBody = op.requestBody;
    if (requestBody) {
      const required = requestBody.required;
      const schema = requestBody.content && requestBody.content["application/json"] && requestBody.content["application/json"].schema;
      if (hasBody || required) this.validate(schema, hasBody ? body : {}, "body", errors, stripped);
    } else if (hasBody) {
      stripped.push("(request body)");
    }
    return { errors, stripped };
  }

  /** The schema of a 2xx JSON answer, to check our own responses. */
  responseSchema(operation, status) {
    const response = operation.responses && operation.responses[String(status)];
    const content = response && response.content && response.content["application/json"];
    return content ? content.schema : undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// State kept like a real server
// ---------------------------------------------------------------------------------------------------------

/** Extensions Immich imports (images and videos), as in its mime-types list. */
const IMAGE_EXTENSIONS = new Set([".3fr", ".ari", ".arw", ".avif", ".bmp", ".cap", ".cin", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf",
  ".fff", ".gif", ".heic", ".heif", ".hif", ".iiq", ".insp", ".jp2", ".jpe", ".jpeg", ".jpg", ".jxl", ".k25", ".kdc", ".mrw", ".nef", ".orf",
  ".ori", ".pef", ".png", ".psd", ".raf", ".raw", ".rw2", ".rwl", ".sr2", ".srf", ".srw", ".svg", ".tif", ".tiff", ".webp", ".x3f"]);
const VIDEO_EXTENSIONS = new Set([".3gp", ".avi", ".flv", ".m2ts", ".m4v", ".mkv", ".mov", ".mp4", ".mpg", ".mts", ".webm", ".wmv"]);

/** A glob (picomatch-style: `**`, `*`, `?`, `{a,b}`) as a regular expression over absolute paths. */
function globToRegExp(glob) {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      if (glob[i + 2] === "/") {
        out += "(?:.*/)?";
        i += 2;
      } else {
        out += ".*";
        i += 1;
      }
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "{") {
      const end = glob.indexOf("}", i);
      if (end < 0) out += "\\{";
      else {
        out += `(?:${glob.slice(i + 1, end).split(",").map((p) => p.replace(/[.+^$()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")).join("|")})`;
        i = end;
      }
    } else out += c.replace(/[.+^$()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

function nowIso() {
  return new Date().toISOString();
}

class Server {
  constructor(options) {
    this.options = options;
    this.contract = new Contract(JSON.parse(fs.readFileSync(options.spec, "utf8")));
    this.logFile = path.join(options.stateDir, "requests.log");
    const admin = {
      id: crypto.randomUUID(),
      email: options.adminEmail,
      name: options.adminName,
      isAdmin: true,
      createdAt: nowIso(),
      updatedAt: nowIso(),
    };
    this.users = [admin];
    // Immich keeps API keys hashed (sha256 of the secret); so does the stand-in: the secret is not on disk.
    this.apiKeys = options.apiKeySha256 ? [{ id: crypto.randomUUID(), name: options.apiKeyName, hash: options.apiKeySha256, userId: admin.id,
      permissions: ["all"], createdAt: nowIso(), updatedAt: nowIso() }] : [];
    this.libraries = new Map();
    /** libraryId → { path, type, size }[] */
    this.assets = new Map();
    this.queue = { waiting: 0, active: 0, completed: 0, failed: 0 };
    this.stateFile = path.join(options.stateDir, "state.json");
    this.load(admin);
  }

  // --- what Immich keeps in its database survives a restart of the server -----------------------------------

  load(admin) {
    if (!fs.existsSync(this.stateFile)) return;
    const saved = JSON.parse(fs.readFileSync(this.stateFile, "utf8"));
    this.users = saved.users;
    this.libraries = new Map(saved.libraries.map((l) => [l.id, l]));
    this.assets = new Map(saved.assets);
    // The configured key (its hash) belongs to the administrator, as when it was first given.
    const keys = saved.apiKeys.filter((k) => k.hash !== this.options.apiKeySha256);
    const owner = this.users.find((u) => u.isAdmin) || admin;
    this.apiKeys = this.options.apiKeySha256
      ? [...keys, ...this.apiKeys.map((k) => ({ ...k, userId: owner.id }))]
      : keys;
  }

  save() {
    const state = { users: this.users, apiKeys: this.apiKeys, libraries: [...this.libraries.values()], assets: [...this.assets] };
    fs.writeFileSync(`${this.stateFile}.tmp`, JSON.stringify(state));
    fs.renameSync(`${this.stateFile}.tmp`, this.stateFile);
  }

  // --- auth ---------------------------------------------------------------------------------------------

  authenticate(req) {
    const key = req.headers["x-api-key"];
    if (typeof key === "string" && key) {
      const hash = crypto.createHash("sha256").update(key).digest("hex");
      const found = this.apiKeys.find((k) => k.hash === hash);
      if (!found) return { error: "Invalid API key" };
      return { user: this.users.find((u) => u.id === found.userId) };
    }
    // Session tokens (bearer or cookie) come from logging in, which the stand-in does not offer: none is valid.
    const auth = req.headers.authorization;
    const cookie = (req.headers.cookie || "").split(/;\s*/).find((c) => c.startsWith("immich_access_token="));
    if ((auth && /^Bearer /i.test(auth)) || cookie) return { error: "Invalid user token" };
    return { error: "Authentication required" };
  }

  // --- what Immich's user may see (it runs as `immich`, with ProtectHome=true) ----------------------------

  /** uid, gid and groups of the user Immich runs as, read from the sandbox's /etc files (nobody if absent). */
  immichIdentity() {
    const name = this.options.runAs;
    const passwd = fs.readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":"));
    const entry = passwd.find((f) => f[0] === name);
    const uid = entry ? Number(entry[2]) : 65534;
    const gid = entry ? Number(entry[3]) : 65534;
    const groups = new Set([gid]);
    for (const line of fs.readFileSync("/etc/group", "utf8").split("\n")) {
      const f = line.split(":");
      if (f.length >= 4 && f[3].split(",").includes(name)) groups.add(Number(f[2]));
    }
    return { uid, groups };
  }

  static allowed(stat, who, bits) {
    if (who.uid === 0) return true;
    const shift = stat.uid === who.uid ? 6 : who.groups.has(stat.gid) ? 3 : 0;
    return ((stat.mode >> shift) & bits) === bits;
  }

  /**
   * fs.statSync as Immich's process would see it: systemd's ProtectHome=true puts an inaccessible (mode 000)
   * directory over /home, /root and /run/user, and every directory on the way needs search permission.
   */
  statAsImmich(target, who) {
    const error = (code, syscall) => Object.assign(new Error(`${code}: ${code === "EACCES" ? "permission denied" : "no such file or directory"}, ${syscall} '${target}'`), { code });
    if (/^\/(home|root|run\/user)\//.test(`${target}/`) && target !== "/home" && target !== "/root" && target !== "/run/user") {
      throw error("EACCES", "stat");
    }
    const parts = target.split("/").filter(Boolean);
    let current = "/";
    for (const part of parts) {
      const dir = fs.statSync(current);
      if (!Server.allowed(dir, who, 1)) throw error("EACCES", "stat");
      current = path.join(current, part);
      if (!fs.existsSync(current)) throw error("ENOENT", "stat");
    }
    return fs.statSync(target);
  }

  /** Immich's LibraryService.validateImportPath, message for message. */
  validateImportPath(importPath) {
    const result = { importPath, isValid: false };
    if (path.resolve(importPath).startsWith(path.resolve(this.options.mediaLocation) + "/") || path.resolve(importPath) === path.resolve(this.options.mediaLocation)) {
      result.message = "Cannot use media upload folder for external libraries";
      return result;
    }
    if (!path.isAbsolute(importPath)) {
      result.message = `Import path must be absolute, try ${path.resolve("/", importPath)}`;
      return result;
    }
    const who = this.immichIdentity();
    try {
      const stat = this.statAsImmich(importPath, who);
      if (!stat.isDirectory()) {
        result.message = "Not a directory";
        return result;
      }
      if (!Server.allowed(stat, who, 4)) {
        result.message = "Lacking read permission for folder";
        return result;
      }
    } catch (err) {
      result.message = err.code === "ENOENT" ? "Path does not exist (ENOENT)" : String(err);
      return result;
    }
    result.isValid = true;
    return result;
  }

  // --- scans --------------------------------------------------------------------------------------------

  /** The files a scan of `library` finds: media files under valid import paths, minus exclusion patterns. */
  crawl(library) {
    const who = this.immichIdentity();
    const exclusions = library.exclusionPatterns.map(globToRegExp);
    const found = [];
    const walk = (dir) => {
      let entries;
      try {
        const stat = fs.statSync(dir);
        if (!Server.allowed(stat, who, 5)) return;
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        const full = path.join(dir, entry.name);
        if (exclusions.some((re) => re.test(full))) continue;
        if (entry.isDirectory()) walk(full);
        else if (entry.isFile()) {
          const ext = path.extname(entry.name).toLowerCase();
          const type = IMAGE_EXTENSIONS.has(ext) ? "IMAGE" : VIDEO_EXTENSIONS.has(ext) ? "VIDEO" : undefined;
          if (!type) continue;
          const stat = fs.statSync(full);
          if (!Server.allowed(stat, who, 4)) continue;
          found.push({ path: full, type, size: stat.size });
        }
      }
    };
    for (const importPath of library.importPaths) {
      if (this.validateImportPath(importPath).isValid) walk(importPath);
    }
    return found;
  }

  /** A scan is a library job: queued now, crawling after a start-up delay, then one step per file found. */
  queueScan(library) {
    this.queue.waiting += 1;
    library.refreshedAt = nowIso();
    setTimeout(() => {
      this.queue.waiting -= 1;
      this.queue.active += 1;
      const files = this.crawl(library);
      const imported = [];
      const step = () => {
        if (imported.length < files.length) {
          imported.push(files[imported.length]);
          this.assets.set(library.id, imported.slice());
          setTimeout(step, this.options.msPerFile);
          return;
        }
        this.assets.set(library.id, imported);
        this.queue.active -= 1;
        this.queue.completed += 1;
        this.save();
      };
      this.assets.set(library.id, []);
      setTimeout(step, this.options.msPerFile);
    }, this.options.scanStartMs);
  }

  // --- responses ------------------------------------------------------------------------------------------

  libraryDto(library) {
    return {
      id: library.id,
      ownerId: library.ownerId,
      name: library.name,
      importPaths: library.importPaths.slice(),
      exclusionPatterns: library.exclusionPatterns.slice(),
      createdAt: library.createdAt,
      updatedAt: library.updatedAt,
      refreshedAt: library.refreshedAt,
      assetCount: (this.assets.get(library.id) || []).length,
    };
  }

  userDto(user) {
    return {
      id: user.id, email: user.email, name: user.name, isAdmin: user.isAdmin, avatarColor: "primary", clusterGroupId: "",
      createdAt: user.createdAt, updatedAt: user.updatedAt, deletedAt: null, license: null, oauthId: "",
      profileChangedAt: user.createdAt, profileImagePath: "", quotaSizeInBytes: null, quotaUsageInBytes: 0, shouldChangePassword: false,
      status: "active", storageLabel: user.isAdmin ? "admin" : null,
    };
  }

  /** Every queue the contract names (QueueName), idle but the library queue, which runs the scans. */
  jobStatus() {
    const idle = { jobCounts: { active: 0, completed: 0, delayed: 0, failed: 0, paused: 0, waiting: 0 }, queueStatus: { isActive: false, isPaused: false } };
    const all = {};
    for (const name of this.contract.resolve({ $ref: "#/components/schemas/QueueName" }).enum) all[name] = JSON.parse(JSON.stringify(idle));
    all.library = {
      jobCounts: { active: this.queue.active, completed: this.queue.completed, delayed: 0, failed: this.queue.failed, paused: 0, waiting: this.queue.waiting },
      queueStatus: { isActive: this.queue.active > 0, isPaused: false },
    };
    return all;
  }

  // --- handlers: one per operationId ------------------------------------------------------------------------

  handle(operationId, ctx) {
    const { params, body, user, query } = ctx;
    const bad = (message) => ({ status: 400, body: { message, error: "Bad Request", statusCode: 400 } });
    const library = () => this.libraries.get(params.id);
    const adminOnly = () => (user.isAdmin ? undefined : { status: 403, body: { message: "Forbidden", error: "Forbidden", statusCode: 403 } });
    switch (operationId) {
      case "pingServer":
        return { status: 200, body: { res: "pong" } };
      case "getMyUser":
        return { status: 200, body: this.userDto(user) };
      case "getAssetStatistics": {
        const mine = [...this.libraries.values()].filter((l) => l.ownerId === user.id).flatMap((l) => this.assets.get(l.id) || []);
        void query;
        const images = mine.filter((a) => a.type === "IMAGE").length;
        return { status: 200, body: { images, videos: mine.length - images, total: mine.length } };
      }
      case "getQueuesLegacy":
        return adminOnly() || { status: 200, body: this.jobStatus() };
      case "runQueueCommandLegacy":
        return adminOnly() || { status: 200, body: this.jobStatus()[params.name] };
      case "getAllLibraries":
        return adminOnly() || { status: 200, body: [...this.libraries.values()].map((l) => this.libraryDto(l)) };
      case "createLibrary": {
        const denied = adminOnly();
        if (denied) return denied;
        if (!this.users.some((u) => u.id === body.ownerId)) return bad("User not found");
        const created = {
          id: crypto.randomUUID(), ownerId: body.ownerId, name: body.name ?? "New External Library",
          importPaths: body.importPaths ?? [], exclusionPatterns: body.exclusionPatterns ?? ["**/@eaDir/**", "**/._*"],
          createdAt: nowIso(), updatedAt: nowIso(), refreshedAt: null,
        };
        this.libraries.set(created.id, created);
        return { status: 201, body: this.libraryDto(created) };
      }
      case "getLibrary":
        return adminOnly() || (library() ? { status: 200, body: this.libraryDto(library()) } : bad("Library not found"));
      case "updateLibrary": {
        const denied = adminOnly();
        if (denied) return denied;
        const found = library();
        if (!found) return bad("Library not found");
        // Immich validates the new import paths before it saves anything (LibraryService.update).
        for (const importPath of body.importPaths || []) {
          const result = this.validateImportPath(importPath);
          if (!result.isValid) return bad(`Invalid import path: ${result.message}`);
        }
        for (const key of ["name", "importPaths", "exclusionPatterns"]) if (body[key] !== undefined) found[key] = body[key];
        found.updatedAt = nowIso();
        return { status: 200, body: this.libraryDto(found) };
      }
      case "deleteLibrary":
        if (adminOnly()) return adminOnly();
        if (!library()) return bad("Library not found");
        this.libraries.delete(params.id);
        this.assets.delete(params.id);
        return { status: 204 };
      case "validate":
        return adminOnly() || { status: 200, body: { importPaths: (body.importPaths || []).map((p) => this.validateImportPath(p)) } };
      case "scanLibrary":
        if (adminOnly()) return adminOnly();
        if (!library()) return bad("Library not found");
        this.queueScan(library());
        return { status: 204 };
      case "getLibraryStatistics": {
        if (adminOnly()) return adminOnly();
        if (!library()) return bad("Library not found");
        const assets = this.assets.get(params.id) || [];
        const photos = assets.filter((a) => a.type === "IMAGE").length;
        return { status: 200, body: { photos, videos: assets.length - photos, total: assets.length, usage: assets.reduce((n, a) => n + a.size, 0) } };
      }
      default:
        return { status: 501, body: { message: `${operationId} is not implemented by the stand-in`, error: "Not Implemented", statusCode: 501 } };
    }
  }

  // --- HTTP ---------------------------------------------------------------------------------------------------

  record(entry) {
    fs.appendFileSync(this.logFile, `${JSON.stringify({ time: nowIso(), ...entry })}\n`);
  }

  async serve(req, res) {
    const url = new URL(req.url, "http://standin");
    const method = req.method.toUpperCase();
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const raw = Buffer.concat(chunks).toString("utf8");
    const send = (status, body, extra = {}) => {
      const text = body === undefined ? "" : JSON.stringify(body);
      // Logged before answering: a client that reads the log after its answer finds its request there.
      this.record({ method, path: url.pathname, status, ...extra });
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json; charset=utf-8" });
      res.end(text);
    };
    const match = this.contract.match(method, url.pathname);
    if (match.found !== "operation") {
      return send(404, { message: `Cannot ${method} ${url.pathname}`, error: "Not Found", statusCode: 404 });
    }
    const op = match.operation;
    const operationId = op.operationId;
    let user;
    if (op.security && op.security.length) {
      const auth = this.authenticate(req);
      if (auth.error) return send(401, { message: auth.error, error: "Unauthorized", statusCode: 401 }, { operationId });
      user = auth.user;
    }
    const contentType = String(req.headers["content-type"] || "");
    let body;
    const hasBody = raw.length > 0 && /application\/json/i.test(contentType);
    if (hasBody) {
      try {
        body = JSON.parse(raw);
      } catch (err) {
        return send(400, { message: err.message, error: "Bad Request", statusCode: 400 }, { operationId });
      }
    }
    const { errors, stripped } = this.contract.check(match, url.searchParams, body, hasBody);
    const extra = { operationId, ...(stripped.length ? { stripped } : {}) };
    if (errors.length) return send(400, { message: errors, error: "Bad Request", statusCode: 400 }, { ...extra, errors });
    // Immich's ValidationPipe (whitelist) drops what the DTO does not declare; the log keeps their names.
    const clean = hasBody && body && typeof body === "object" && !Array.isArray(body) ? { ...body } : {};
    for (const key of stripped) delete clean[key];
    let result;
    try {
      result = this.handle(operationId, { params: match.params, body: clean, user, query: url.searchParams });
      if (method !== "GET" && result.status < 400) this.save();
    } catch (err) {
      return send(500, { message: "Internal server error", error: "Internal Server Error", statusCode: 500 }, { ...extra, crash: String(err) });
    }
    // Our own answers are checked against the spec too: a wrong stand-in must not pass a test.
    const schema = this.contract.responseSchema(op, result.status);
    if (schema && result.status < 300) {
      const responseErrors = [];
      this.contract.validate(schema, result.body, "response", responseErrors);
      if (responseErrors.length) extra.responseErrors = responseErrors;
    }
    return send(result.status, result.body, extra);
  }

  listen() {
    const server = http.createServer((req, res) => {
      this.serve(req, res).catch((err) => {
        res.writeHead(500);
        res.end();
        this.record({ method: req.method, path: req.url, status: 500, crash: String(err) });
      });
    });
    return new Promise((resolve) => server.listen(this.options.port, this.options.host, () => resolve(server)));
  }
}

/** The contract the stand-in enforces: contract.json beside this file (written from contract.ts). */
const DEFAULT_SPEC = path.join(__dirname, "contract.json");

function parseOptions(argv) {
  const options = {
    spec: DEFAULT_SPEC, host: "127.0.0.1", port: 2283, stateDir: "/var/lib/immich-standin", runAs: "immich", mediaLocation: "/var/lib/immich",
    scanStartMs: 400, msPerFile: 250, adminName: "Admin", apiKeyName: "skylab-immich", adminEmail: "admin@skylab.local",
    role: "server",
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_m, c) => c.toUpperCase());
    options[key] = ["port", "scanStartMs", "msPerFile"].includes(key) ? Number(argv[i + 1]) : argv[i + 1];
  }
  // The admin's e-mail and the API key's hash come in a file (the key itself never reaches the stand-in).
  // Without it (no key configured yet) every authenticated request is refused, as with a fresh Immich.
  if (options.config && fs.existsSync(options.config)) Object.assign(options, JSON.parse(fs.readFileSync(options.config, "utf8")));
  return options;
}

/**
 * Seconds before the server answers, from --start-delay-file: a number, or "never" (a server that never
 * comes up). A real Immich takes seconds to tens of seconds after a restart; the default says so.
 */
function startDelaySeconds(file) {
  if (!file || !fs.existsSync(file)) return 3;
  const text = fs.readFileSync(file, "utf8").trim();
  if (text === "never") return Infinity;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`immich stand-in: ${file} must hold a number of seconds or "never" (got "${text}")`);
  return seconds;
}

/**
 * As Immich at start: each folder of its media location gets a `.immich` marker when it has none, and
 * must be writable (a file is made and removed); otherwise the server stops. Existing markers are left as
 * they are.
 */
function checkMediaLocation(mediaLocation) {
  for (const folder of ["upload", "library", "thumbs", "encoded-video", "profile", "backups"]) {
    const dir = path.join(mediaLocation, folder);
    fs.mkdirSync(dir, { recursive: true });
    const marker = path.join(dir, ".immich");
    if (!fs.existsSync(marker)) fs.writeFileSync(marker, "");
    const probe = path.join(dir, `.immich-write-check-${process.pid}`);
    fs.writeFileSync(probe, "");
    fs.unlinkSync(probe);
  }
}

/** The other Immich units' stand-ins: they answer their health endpoints only. */
function healthServer(options) {
  const routes = { "machine-learning": ["/ping", "pong"], "public-proxy": ["/share/healthcheck", "ok"] };
  const [route, answer] = routes[options.role] || [];
  if (!route) throw new Error(`immich stand-in: unknown --role ${options.role}`);
  return http.createServer((req, res) => {
    const found = new URL(req.url, "http://standin").pathname === route;
    res.writeHead(found ? 200 : 404, { "content-type": "text/plain" });
    res.end(found ? answer : "Not Found");
  });
}

if (require.main === module) {
  const options = parseOptions(process.argv.slice(2));
  for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
  if (options.role !== "server") {
    healthServer(options).listen(options.port, options.host, () => {
      process.stdout.write(`immich ${options.role} stand-in listening on ${options.host}:${options.port}\n`);
    });
  } else {
    fs.mkdirSync(options.stateDir, { recursive: true });
    try {
      checkMediaLocation(options.mediaLocation);
    } catch (err) {
      process.stderr.write(`immich stand-in: cannot write the media location ${options.mediaLocation}: ${err.message}\n`);
      process.exit(1);
    }
    const delay = options.startDelay !== undefined ? Number(options.startDelay) : startDelaySeconds(options.startDelayFile);
    // As Immich: no database login, no server (systemd restarts the unit, as it does Immich's).
    connectDatabase(process.env, (line) => process.stdout.write(line)).then(() => {
      process.stdout.write(`immich stand-in starting: answering on ${options.host}:${options.port} in ${delay}s\n`);
      if (delay !== Infinity) {
        setTimeout(() => {
          new Server(options).listen().then(() => {
            process.stdout.write(`immich stand-in listening on ${options.host}:${options.port}\n`);
          });
        }, delay * 1000);
      } else {
        setInterval(() => {}, 1 << 30);
      }
    }, (err) => {
      process.stderr.write(`immich stand-in: ${err.message}\n`);
      process.exit(1);
    });
  }
}

module.exports = { Contract, Server, globToRegExp, DEFAULT_SPEC };
