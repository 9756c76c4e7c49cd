// Choosing the addresses a node listens and advertises on, as docker does: an explicit address
// (or an interface name), else the listen address when it is specific, else the host's only
// non-loopback address.
import { networkInterfaces } from "node:os";
import { invalidArgument } from "./errors.js";

/** Splits host:port ([v6]:port too); port is null when absent. */
export function splitHostPort(addr: string): { host: string; port: number | null } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:]*)(?::(\d+))?$/.exec(addr);
  if (!m) return { host: addr, port: null };
  return { host: m[1] ?? "", port: m[2] ? Number(m[2]) : null };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `addr` with `port` appended when it has none. */
export function withDefaultPort(addr: string, port: number): string {
  const p = splitHostPort(addr);
  if (p.port !== null && (p.port < 1 || p.port > 65535)) throw invalidArgument(`invalid address "${addr}": port must be 1-65535`);
  return joinHostPort(p.host || "0.0.0.0", p.port ?? port);
}

function interfaceAddress(name: string): string | null {
  const addrs = networkInterfaces()[name];
  return addrs?.find((a) => a.family === "IPv4")?.address ?? addrs?.[0]?.address ?? null;
}

function onlyExternalAddress(): string {
  const found: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal && a.family === "IPv4") found.push(`${a.address} on ${name}`);
  }
  if (found.length === 1) return found[0]!.split(" ")[0]!;
  if (found.length === 0) throw invalidArgument("could not find an address to advertise: this host has no non-loopback IPv4 address; use --advertise-addr");
  throw invalidArgument(
    `could not choose an IP address to advertise since this system has multiple addresses (${found.join(", ")}); use --advertise-addr`,
  );
}

/** The host:port other nodes reach this node at. */
export function resolveAdvertiseAddr(advertise: string | undefined, listenAddr: string): string {
  const listen = splitHostPort(listenAddr);
  const port = listen.port ?? 2377;
  if (advertise) {
    const a = splitHostPort(advertise);
    const host = interfaceAddress(a.host) ?? a.host;
    return joinHostPort(host, a.port ?? port);
  }
  if (listen.host && listen.host !== "0.0.0.0" && listen.host !== "::") return joinHostPort(listen.host, port);
  return joinHostPort(onlyExternalAddress(), port);
}
