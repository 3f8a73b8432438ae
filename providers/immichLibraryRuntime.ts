// The half of the ImmichLibrary dynamic provider that runs inside the engine's provider process. The
// serialized provider in the state only `require`s this module from the checkout (as RemoteScript does).
//
// Transport: Immich listens on loopback on SKYLAB, and SSH is the only way in. Every operation opens one SSH
// local port forward — on the run's shared connection when its master is alive (lib/sshMaster.ts), else
// `ssh -N -L 127.0.0.1:<free port>:<Immich host>:<Immich port>` with the pinned host key and the options of
// lib/ssh.ts — and talks to Immich through it with @immich/sdk. The API key travels only in
// the `x-api-key` header inside that tunnel: never in a command line, an environment variable or a file.
import { ChildProcess, spawn } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { createServer, connect } from "net";
import { tmpdir } from "os";
import { join } from "path";
import { describeSshFailure, endsWithThisProcess, knownHostsLine, sshArguments, SshConnection, sshEnvironment } from "../lib/remote/ssh";
import { controlCommand, masterPid, sharedControlPath } from "../lib/remote/sshMaster";

/** What one scan took, measured from the deployer: trigger → Immich's library queue idle again. */
export interface IndexingResult {
  /** Seconds from the scan request until Immich reported the library queue idle (±0.25 s polling). */
  seconds: number;
  /** Assets in the library after the scan (Immich's library statistics `total`). */
  assetsFound: number;
  assetsPerSecond: number;
  /** When the scan was requested (ISO 8601). */
  startedAt: string;
}

/** Inputs as the provider sees them (plain values: the engine unwraps secrets for dynamic providers). */
export interface ImmichLibraryProps {
  connection: SshConnection;
  /** Immich's address as seen on the host: "http://127.0.0.1:2283". */
  apiUrl: string;
  apiKey: string;
  name: string;
  ownerId?: string;
  ownerEmail?: string;
  importPaths: string[];
  exclusionPatterns: string[];
  scanAndWait: boolean;
  scanTimeoutSeconds: number;
  deleteOnDestroy: boolean;
  /** Any change of this value scans (and measures) again, even when the library is unchanged. */
  rescanToken?: string;
}

export interface ImmichLibraryOutputs extends ImmichLibraryProps {
  libraryId: string;
  /** The Immich user who owns the library. */
  resolvedOwnerId: string;
  /** What the last create/update changed in Immich ("created", "adopted", "exclusionPatterns", ...). */
  lastChanges: string[];
  /** The last measured scan; null when none was waited for. */
  indexing: IndexingResult | null;
}

/** Fields whose change means Immich must be looked at (and possibly changed) again. */
const DESIRED_FIELDS = ["name", "ownerId", "ownerEmail", "importPaths", "exclusionPatterns", "apiUrl", "rescanToken"] as const;
/**
 * Fields that only change what the provider does later: stored by an update that calls nothing that writes
 * (a rotated API key must reach the state, or a later destroy would use the revoked one).
 */
const BEHAVIOUR_FIELDS = ["scanAndWait", "scanTimeoutSeconds", "deleteOnDestroy", "apiKey"] as const;
const CONNECTION_FIELDS = ["host", "port", "user", "hostKey"] as const;

/** The engine's marker for a value not known during preview. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

// ---------------------------------------------------------------------------------------------------------
// Pure parts (unit-tested)
// ---------------------------------------------------------------------------------------------------------

/** Host and port of an http:// URL; Immich's API is below /api. */
export function parseApiUrl(apiUrl: string): { host: string; port: number } {
  const url = new URL(apiUrl);
  if (url.protocol !== "http:") throw new Error(`\`library.apiUrl\` must be an http:// URL as seen on SKYLAB (got ${JSON.stringify(apiUrl)})`);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port ? Number(url.port) : 80 };
}

/** The library as Immich has it, reduced to what this provider manages. */
export interface LibraryView {
  id: string;
  name: string;
  ownerId: string;
  importPaths: string[];
  exclusionPatterns: string[];
  refreshedAt: string | null;
}

const sameSet = (a: string[], b: string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** The fields of `library` that differ from what is desired (order of lists does not matter). */
export function libraryDifferences(library: LibraryView, desired: Pick<ImmichLibraryProps, "name" | "importPaths" | "exclusionPatterns">): Array<"name" | "importPaths" | "exclusionPatterns"> {
  const out: Array<"name" | "importPaths" | "exclusionPatterns"> = [];
  if (library.name !== desired.name) out.push("name");
  if (!sameSet(library.importPaths, desired.importPaths)) out.push("importPaths");
  if (!sameSet(library.exclusionPatterns, desired.exclusionPatterns)) out.push("exclusionPatterns");
  return out;
}

/** Why the stored state differs from the new inputs (nothing here calls Immich). */
export function inputChanges(olds: Partial<ImmichLibraryOutputs>, news: ImmichLibraryProps): string[] {
  const reasons: string[] = [];
  for (const field of [...DESIRED_FIELDS, ...BEHAVIOUR_FIELDS]) {
    if (JSON.stringify(olds[field] ?? null) !== JSON.stringify(news[field] ?? null)) reasons.push(`${field} changed`);
  }
  for (const field of CONNECTION_FIELDS) {
    if ((olds.connection?.[field] ?? null) !== (news.connection?.[field] ?? null)) reasons.push(`connection.${field} changed`);
  }
  return reasons;
}

/** Immich's per-path validation messages as one error, with the fix for the /home trap. */
export function invalidPathsMessage(name: string, results: Array<{ importPath: string; isValid: boolean; message?: string }>): string | undefined {
  const invalid = results.filter((r) => !r.isValid);
  if (!invalid.length) return undefined;
  const lines = invalid.map((r) => {
    const hint = /^\/(home|root)(\/|$)/.test(r.importPath)
      ? " (the NixOS Immich service runs with ProtectHome=true: paths under /home are invisible to Immich; " +
        "use the read-only bind mount, `pictures.mountPoint`, e.g. /media/immich)"
      : "";
    return `  - ${r.importPath}: ${r.message ?? "invalid"}${hint}`;
  });
  return `Immich rejected the import paths of library "${name}" (\`library.importPaths\`); nothing was saved:\n${lines.join("\n")}`;
}

/** Text of an error answer from Immich ({ message: string | string[] }). */
export function immichMessage(error: unknown): string {
  const e = error as { status?: number; data?: unknown; message?: string };
  if (typeof e?.status === "number") {
    let data = e.data;
    if (typeof data === "string") {
      try {
        data = JSON.parse(data);
      } catch {
        // Not JSON: shown as it is.
      }
    }
    const message = (data as { message?: unknown } | undefined)?.message;
    const text = Array.isArray(message) ? message.join("; ") : typeof message === "string" ? message : typeof data === "string" ? data : "";
    return `HTTP ${e.status}${text ? `: ${text}` : ""}`;
  }
  return e?.message ?? String(error);
}

// ---------------------------------------------------------------------------------------------------------
// The tunnel
// ---------------------------------------------------------------------------------------------------------

export interface Tunnel {
  /** Base URL of Immich's API through the tunnel: http://127.0.0.1:<port>/api */
  baseUrl: string;
  close(): void;
}

function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free local port"))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * A local forward to `<host>:<port>` on SKYLAB: through the run's master when it is alive (`ssh -O forward`,
 * cancelled on close), else `ssh -N -L 127.0.0.1:<free port>:<host>:<port>` with the pinned host key. The private key is written 0600 in
 * a private temporary folder and removed as soon as ssh has authenticated (or failed).
 */
export async function openTunnel(
  conn: SshConnection, remoteHost: string, remotePort: number, controlPath: string | undefined = sharedControlPath(conn),
): Promise<Tunnel> {
  for (let attempt = 1; ; attempt++) {
    const port = await freeLocalPort();
    const forward = `127.0.0.1:${port}:${remoteHost.includes(":") ? `[${remoteHost}]` : remoteHost}:${remotePort}`;
    // The run's master is alive: it listens for the forward itself (`ssh -O forward`), no new connection.
    if (controlPath && masterPid(conn, controlPath) !== undefined) {
      if (controlCommand(conn, controlPath, "forward", forward).code === 0) {
        return { baseUrl: `http://127.0.0.1:${port}/api`, close: () => void controlCommand(conn, controlPath, "cancel", forward) };
      }
      // The port was taken meanwhile (or the master just went): another port, or a connection of its own.
      if (attempt < 3) continue;
    }
    const dir = mkdtempSync(join(tmpdir(), "skylab-tunnel-"));
    const keyFile = join(dir, "id");
    const knownHostsFile = join(dir, "known_hosts");
    writeFileSync(keyFile, conn.privateKey.endsWith("\n") ? conn.privateKey : `${conn.privateKey}\n`, { mode: 0o600 });
    writeFileSync(knownHostsFile, knownHostsLine(conn.host, conn.port, conn.hostKey), { mode: 0o600 });
    const control = ["-o", "ControlPath=none"];
    const child: ChildProcess = endsWithThisProcess(spawn("ssh", ["-N", "-o", "ExitOnForwardFailure=yes", "-L", forward, ...sshArguments(conn, keyFile, knownHostsFile, control)], {
      stdio: ["ignore", "ignore", "pipe"],
      env: sshEnvironment(),
    }));
    let stderr = "";
    let exited = false;
    child.stderr?.on("data", (d: Buffer) => (stderr += d));
    child.on("exit", () => (exited = true));
    child.on("error", (err) => {
      exited = true;
      stderr += `could not start ssh: ${err.message}`;
    });
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    const deadline = Date.now() + 20_000;
    let ready = false;
    while (!exited && Date.now() < deadline) {
      if (await canConnect(port)) {
        ready = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    cleanup();
    if (ready && !exited) {
      return {
        baseUrl: `http://127.0.0.1:${port}/api`,
        close: () => {
          if (!exited) child.kill("SIGTERM");
        },
      };
    }
    if (!exited) child.kill("SIGTERM");
    // Someone took the port between our probe and ssh's bind: try another one.
    if (/Address already in use|cannot listen to port/i.test(stderr) && attempt < 3) continue;
    throw new Error(`SSH tunnel to Immich on ${conn.host}: ${exited ? describeSshFailure(conn, stderr) : "ssh did not open the forward within 20 s"}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Talking to Immich (@immich/sdk)
// ---------------------------------------------------------------------------------------------------------

type Sdk = typeof import("@immich/sdk");

function loadSdk(): Sdk {
  // @immich/sdk is an ES module; Node 20.19+ loads it with require().
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("@immich/sdk") as Sdk;
}

/** The SDK calls the provider uses, bound to one tunnel and key (per call: no global SDK state). */
export class ImmichApi {
  private readonly sdk: Sdk;
  private readonly opts: { baseUrl: string; headers: Record<string, string> };

  constructor(baseUrl: string, apiKey: string, private readonly where: string) {
    this.sdk = loadSdk();
    this.opts = { baseUrl, headers: { "x-api-key": apiKey } };
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const status = (error as { status?: number }).status;
      const fix = status === 401 ? " (check the `immichApiKey` secret: the key may have been deleted in Immich)"
        : status === 403 ? " (the API key's user must be an Immich administrator to manage libraries)" : "";
      throw Object.assign(new Error(`Immich at ${this.where}: ${what} failed: ${immichMessage(error)}${fix}`), { status });
    }
  }

  ping() {
    return this.call("ping", () => this.sdk.pingServer({ baseUrl: this.opts.baseUrl }));
  }
  me() {
    return this.call("read the API key's user", () => this.sdk.getMyUser(this.opts));
  }
  libraries(): Promise<LibraryView[]> {
    return this.call("list libraries", () => this.sdk.getAllLibraries(this.opts));
  }
  create(dto: { ownerId: string; name: string; importPaths: string[]; exclusionPatterns: string[] }): Promise<LibraryView> {
    return this.call(`create library "${dto.name}"`, () => this.sdk.createLibrary({ createLibraryDto: dto }, this.opts));
  }
  update(id: string, dto: { name?: string; importPaths?: string[]; exclusionPatterns?: string[] }): Promise<LibraryView> {
    return this.call(`update library ${id}`, () => this.sdk.updateLibrary({ id, updateLibraryDto: dto }, this.opts));
  }
  validate(id: string, importPaths: string[]) {
    return this.call(`validate import paths`, () => this.sdk.validate({ id, validateLibraryDto: { importPaths } }, this.opts));
  }
  scan(id: string) {
    return this.call(`scan library ${id}`, () => this.sdk.scanLibrary({ id }, this.opts));
  }
  remove(id: string) {
    return this.call(`delete library ${id}`, () => this.sdk.deleteLibrary({ id }, this.opts));
  }
  statistics(id: string) {
    return this.call(`library statistics`, () => this.sdk.getLibraryStatistics({ id }, this.opts));
  }
  library(id: string): Promise<LibraryView & { assetCount: number }> {
    return this.call(`read library ${id}`, () => this.sdk.getLibrary({ id }, this.opts));
  }
  queues() {
    return this.call("read the job queues", () => this.sdk.getQueuesLegacy(this.opts));
  }
}

/** Opens the tunnel, checks Immich answers, runs `work`, closes the tunnel. */
export async function withImmich<T>(props: ImmichLibraryProps, work: (api: ImmichApi) => Promise<T>): Promise<T> {
  const { host, port } = parseApiUrl(props.apiUrl);
  const tunnel = await openTunnel(props.connection, host, port);
  try {
    const api = new ImmichApi(tunnel.baseUrl, props.apiKey, `${props.apiUrl} on ${props.connection.host}`);
    try {
      await api.ping();
    } catch (error) {
      throw new Error(`Immich does not answer at ${props.apiUrl} on ${props.connection.host} (through the SSH tunnel): ` +
        `is immich-server running? (\`systemctl status immich-server\`)\n${(error as Error).message}`);
    }
    return await work(api);
  } finally {
    tunnel.close();
  }
}

async function ownerOf(api: ImmichApi, props: ImmichLibraryProps): Promise<string> {
  if (props.ownerId) return props.ownerId;
  const me = await api.me();
  if (props.ownerEmail && me.email.toLowerCase() !== props.ownerEmail.toLowerCase()) {
    throw new Error(`\`library.ownerEmail\` is ${props.ownerEmail}, but the API key belongs to ${me.email}: the API this program uses can ` +
      "only look up the key's own user. Set `library.ownerId` to the owner's id (Immich: Administration → Users → the user), or leave both unset for the key's user.");
  }
  return me.id;
}

/** The library with `knownId`, else the one named `name` (adopted), else undefined. */
async function findLibrary(api: ImmichApi, name: string, knownId?: string): Promise<{ library?: LibraryView; adopted: boolean }> {
  const all = await api.libraries();
  const byId = knownId ? all.find((l) => l.id === knownId) : undefined;
  if (byId) return { library: byId, adopted: false };
  const named = all.filter((l) => l.name === name);
  if (named.length > 1) {
    throw new Error(`Immich has ${named.length} libraries named "${name}" (${named.map((l) => l.id).join(", ")}): delete or rename the extra ones ` +
      "(Administration → External Libraries), or set another `library.name`");
  }
  return { library: named[0], adopted: named.length === 1 };
}

/** Polls Immich until the scan requested at `started` is done; reports progress to the engine. */
async function waitForScan(api: ImmichApi, id: string, started: number, timeoutSeconds: number, log: (m: string) => void): Promise<IndexingResult> {
  let seenBusy = false;
  let lastReport = 0;
  for (;;) {
    const queues = await api.queues();
    const busy = [queues.library, queues.metadataExtraction].some((q) => q && (q.queueStatus.isActive ||
      q.jobCounts.active + q.jobCounts.waiting + q.jobCounts.delayed > 0));
    seenBusy ||= busy;
    const library = await api.library(id);
    const refreshed = library.refreshedAt ? Date.parse(library.refreshedAt) >= started - 1000 : false;
    if (!busy && (seenBusy || refreshed)) break;
    const elapsed = (Date.now() - started) / 1000;
    if (elapsed > timeoutSeconds) {
      throw new Error(`the scan of library ${id} did not finish within ${timeoutSeconds} s (\`library.scanTimeoutSeconds\`); it goes on in Immich`);
    }
    if (Date.now() - lastReport > 3000) {
      lastReport = Date.now();
      log(`scanning: ${library.assetCount ?? 0} assets so far (${elapsed.toFixed(1)} s)`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = Math.round(Date.now() - started) / 1000;
  const { total } = await api.statistics(id);
  return { seconds, assetsFound: total, assetsPerSecond: seconds > 0 ? Math.round((total / seconds) * 100) / 100 : 0, startedAt: new Date(started).toISOString() };
}

/**
 * Makes Immich match `props`: finds the library (by id, else by name: adopted), creates it if missing, changes
 * only what differs (after Immich's validate endpoint accepted the import paths), scans after a change.
 * Nothing that writes is called when Immich already matches.
 */
export async function converge(props: ImmichLibraryProps, previous?: Partial<ImmichLibraryOutputs>): Promise<ImmichLibraryOutputs> {
  const log = engineLog();
  return withImmich(props, async (api) => {
    const ownerId = await ownerOf(api, props);
    const found = await findLibrary(api, props.name, previous?.libraryId);
    const changes: string[] = [];
    let library = found.library;
    if (library && library.ownerId !== ownerId) {
      throw new Error(`library "${library.name}" (${library.id}) belongs to another Immich user (${library.ownerId}) and Immich cannot change ` +
        "a library's owner: delete it in Immich, or set another `library.name`");
    }
    if (!library) {
      // The validate endpoint needs a library: create it without import paths, validate, then set them.
      library = await api.create({ ownerId, name: props.name, importPaths: [], exclusionPatterns: props.exclusionPatterns });
      changes.push("created");
      const problem = invalidPathsMessage(props.name, (await api.validate(library.id, props.importPaths)).importPaths ?? []);
      if (problem) {
        await api.remove(library.id);
        throw new Error(problem);
      }
      library = await api.update(library.id, { importPaths: props.importPaths });
    } else {
      if (found.adopted) changes.push("adopted");
      const differing = libraryDifferences(library, props);
      if (differing.includes("importPaths")) {
        const problem = invalidPathsMessage(props.name, (await api.validate(library.id, props.importPaths)).importPaths ?? []);
        if (problem) throw new Error(problem);
      }
      if (differing.length) {
        const dto: { name?: string; importPaths?: string[]; exclusionPatterns?: string[] } = {};
        for (const field of differing) dto[field] = props[field] as never;
        library = await api.update(library.id, dto);
        changes.push(...differing);
      }
    }
    const rescan = (previous?.rescanToken ?? null) !== (props.rescanToken ?? null) && previous !== undefined;
    let indexing = previous?.indexing ?? null;
    if (changes.some((c) => c !== "adopted") || rescan || library.refreshedAt === null) {
      const started = Date.now();
      await api.scan(library.id);
      changes.push("scanned");
      indexing = props.scanAndWait
        ? await waitForScan(api, library.id, started, props.scanTimeoutSeconds, (m) => log(`Immich library "${props.name}": ${m}`))
        : null;
    }
    return { ...props, libraryId: library.id, resolvedOwnerId: ownerId, lastChanges: changes, indexing };
  });
}

/**
 * Drift: one read-only look at Immich (GET only) from the diff, so a library changed or deleted by hand shows
 * in preview and is repaired by up. Unreachable Immich is reported as a warning, not as a change.
 */
export async function lookForDrift(olds: Partial<ImmichLibraryOutputs>, news: ImmichLibraryProps): Promise<string[]> {
  if (process.env.SKYLAB_SKIP_HOST_LOOK === "1" || JSON.stringify(news).includes(UNKNOWN) || !olds.libraryId) return [];
  try {
    return await withImmich(news, async (api) => {
      const all = await api.libraries();
      const library = all.find((l) => l.id === olds.libraryId);
      if (!library) return [`drift: library ${olds.libraryId} is gone from Immich`];
      return libraryDifferences(library, news).map((field) => `drift: ${field} was changed in Immich`);
    });
  } catch (error) {
    engineLog("WARNING")(`Immich library "${news.name}": could not look at Immich, drift NOT checked: ${(error as Error).message}`);
    return [];
  }
}

export async function diff(olds: Partial<ImmichLibraryOutputs>, news: ImmichLibraryProps): Promise<{ changes: boolean; reasons: string[] }> {
  const reasons = inputChanges(olds, news);
  if (!reasons.length) reasons.push(...(await lookForDrift(olds, news)));
  return { changes: reasons.length > 0, reasons };
}

export async function create(props: ImmichLibraryProps): Promise<{ id: string; outs: ImmichLibraryOutputs }> {
  const outs = await converge(props);
  return { id: outs.libraryId, outs };
}

export async function update(olds: ImmichLibraryOutputs, news: ImmichLibraryProps): Promise<{ outs: ImmichLibraryOutputs }> {
  return { outs: await converge(news, olds) };
}

/** Deletes the library only when `deleteOnDestroy`: it holds the users' albums, faces and metadata. */
export async function remove(props: ImmichLibraryOutputs): Promise<void> {
  if (!props.deleteOnDestroy) {
    engineLog()(`Immich library "${props.name}" (${props.libraryId}) is kept in Immich (library.deleteOnDestroy is false)`);
    return;
  }
  await withImmich(props, async (api) => {
    const all = await api.libraries();
    if (all.some((l) => l.id === props.libraryId)) await api.remove(props.libraryId);
  });
}

/** Messages to the engine that started this provider (its address is our first argument). */
function engineLog(severity: "INFO" | "WARNING" = "INFO"): (message: string) => void {
  const address = process.argv[2];
  if (!address || !/^[\w.-]+:\d+$/.test(address)) return (message) => process.stderr.write(`${message}\n`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require("@grpc/grpc-js");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const engineProto = require("@pulumi/pulumi/proto/engine_pb");
  const client = new engineRpc.EngineClient(address, grpc.credentials.createInsecure());
  return (message) => {
    const request = new engineProto.LogRequest();
    request.setSeverity(engineProto.LogSeverity[severity]);
    request.setMessage(message);
    client.log(request, () => undefined);
  };
}
