import { createServer, IncomingMessage, Server } from "http";
import { AddressInfo, Socket } from "net";
import { fetchWithoutKeepAlive } from "../../../providers/immichLibrary/api";

// Through the tunnel every open TCP connection is a channel of the run's SSH master, which cannot end while
// one is open: the provider's requests must close their connection with the answer.
describe("fetchWithoutKeepAlive", () => {
  let server: Server;
  let base: string;
  const requests: { method?: string; url?: string; headers: IncomingMessage["headers"]; body: string }[] = [];
  const sockets: Socket[] = [];
  const closed: Socket[] = [];
  let onClose: (() => void) | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        requests.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.url === "/empty") {
          res.writeHead(204).end();
          return;
        }
        res.writeHead(req.url === "/missing" ? 404 : 200, { "content-type": "application/json", "set-cookie": ["a=1", "b=2"] });
        res.end(JSON.stringify({ seen: req.url }));
      });
    });
    // The server's side of each connection: one per request, each closed once answered.
    server.keepAliveTimeout = 60_000;
    server.on("connection", (socket: Socket) => {
      sockets.push(socket);
      socket.on("close", () => {
        closed.push(socket);
        onClose?.();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const allClosed = () => new Promise<void>((resolve) => {
    onClose = () => closed.length === sockets.length && resolve();
    onClose();
  });

  it("answers as fetch does and closes each connection with its answer", async () => {
    const ok = await fetchWithoutKeepAlive(`${base}/api/libraries`, { method: "POST", headers: { "x-api-key": "k", "content-type": "application/json" }, body: '{"name":"Pictures"}' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ seen: "/api/libraries" });
    expect(ok.headers.get("content-type")).toBe("application/json");
    expect(ok.headers.get("set-cookie")).toBe("a=1, b=2");
    const missing = await fetchWithoutKeepAlive(`${base}/missing`);
    expect(missing.status).toBe(404);
    expect(missing.ok).toBe(false);
    const empty = await fetchWithoutKeepAlive(`${base}/empty`);
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe("");

    expect(requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ["POST", "/api/libraries", '{"name":"Pictures"}'], ["GET", "/missing", ""], ["GET", "/empty", ""],
    ]);
    expect(requests[0].headers["x-api-key"]).toBe("k");
    expect(requests[0].headers["content-length"]).toBe("19");
    expect(requests.map((r) => r.headers.connection)).toEqual(["close", "close", "close"]);
    // Three requests, three connections, every one closed (the server would keep them for a minute).
    await allClosed();
    expect(sockets).toHaveLength(3);
  });

  it("positive control: Node's own fetch leaves its connection open after the answer", async () => {
    const before = sockets.length;
    const answer = await fetch(`${base}/kept`);
    expect(await answer.json()).toEqual({ seen: "/kept" });
    expect(sockets.length).toBe(before + 1);
    expect(sockets[before].destroyed).toBe(false);
    expect(closed).not.toContain(sockets[before]);
    sockets[before].destroy();
  });

  it("rejects when nothing listens", async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    await expect(fetchWithoutKeepAlive(`http://127.0.0.1:${port}/`)).rejects.toThrow(/ECONNREFUSED/);
  });
});
