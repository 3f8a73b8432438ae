// Talking to Immich (@immich/sdk) through the SSH tunnel: the API key travels only in the `x-api-key`
// header inside it, never in a command line, an environment variable or a file.
import { request } from "http";
import { openTunnel } from "../../lib/remote/tunnel";
import { ImmichLibraryProps, LibraryView, parseApiUrl } from "./plan";

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

type Sdk = typeof import("@immich/sdk");

function loadSdk(): Sdk {
  // @immich/sdk is an ES module; Node 20.19+ loads it with require().
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("@immich/sdk") as Sdk;
}

/**
 * `fetch` over plain HTTP with one TCP connection per request, closed with its answer. Node's own fetch keeps
 * connections open for seconds after the answer; through the tunnel each is a channel of the run's SSH
 * master, which does not end while one is open (the program waits for it at its exit). Only `http://` (the
 * tunnel's loopback end) is needed.
 */
export const fetchWithoutKeepAlive: typeof fetch = (input, init) => new Promise((resolve, reject) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const headers = new Headers(init?.headers);
  const body = init?.body === undefined || init.body === null ? undefined : String(init.body);
  if (body !== undefined) headers.set("content-length", String(Buffer.byteLength(body)));
  const req = request(url, { method: init?.method ?? "GET", headers: Object.fromEntries(headers), agent: false }, (res) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("error", reject);
    res.on("end", () => {
      const answer = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) answer.append(name, v);
      }
      const status = res.statusCode ?? 0;
      const noBody = status === 204 || status === 304;
      resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: answer }));
    });
  });
  req.on("error", reject);
  init?.signal?.addEventListener("abort", () => req.destroy(new Error("aborted")));
  req.end(body);
});

/** The SDK calls the provider uses, bound to one tunnel and key (per call: no global SDK state). */
export class ImmichApi {
  private readonly sdk: Sdk;
  private readonly opts: { baseUrl: string; headers: Record<string, string>; fetch: typeof fetch };

  constructor(baseUrl: string, apiKey: string, private readonly where: string) {
    const sdk = loadSdk();
    this.sdk = sdk;
    // jsonOnly: the SDK's own check of an answer's content type, as its default fetch makes it (no request).
    this.opts = { baseUrl, headers: { "x-api-key": apiKey }, fetch: sdk.jsonOnly(fetchWithoutKeepAlive) };
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
    return this.call("ping", () => this.sdk.pingServer({ baseUrl: this.opts.baseUrl, fetch: this.opts.fetch }));
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
