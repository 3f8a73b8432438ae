// A local port forward to a service that listens only on the host (Immich on loopback on SKYLAB): through
// the run's shared connection when its master is alive (sshMaster.ts), else `ssh -N -L` with the pinned host
// key and the options of ssh.ts. What travels through it (an API key in a header) never reaches a command
// line, an environment variable or a file.
import { ChildProcess, spawn } from "child_process";
import { createServer, connect } from "net";
import { describeSshFailure, endsWithThisProcess, sshArguments, SshConnection, sshEnvironment, writeSshFiles } from "./ssh";
import { controlCommand, masterPid, sharedControlPath } from "./sshMaster";

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
    const files = writeSshFiles(conn, "skylab-tunnel-");
    const { keyFile, knownHostsFile } = files;
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
    const deadline = Date.now() + 20_000;
    let ready = false;
    while (!exited && Date.now() < deadline) {
      if (await canConnect(port)) {
        ready = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    files.remove();
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
