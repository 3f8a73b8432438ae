import { isIP } from "net";

/** True for 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z). Names, "localhost" included, are not addresses. */
export function isLoopbackAddress(host: string): boolean {
  const address = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(address) === 4) return address.split(".")[0] === "127";
  if (isIP(address) !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isLoopbackAddress(mapped[1]);
  if (address.endsWith("::")) return false;
  const groups = address.split(":").filter((group) => group !== "");
  return groups.slice(0, -1).every((group) => /^0+$/.test(group)) && /^0*1$/.test(groups[groups.length - 1]);
}

/** "host:port" for messages; IPv6 addresses in brackets, as in a URL. */
export function hostPort(host: string, port: unknown): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
