// Pure IPv4/IPv6 address and CIDR parsing for node.ip constraints (no node:net: scheduler/ is pure).
// Addresses become byte arrays (4 or 16 bytes) so equality and prefix containment are byte comparisons.

/** A parsed address: 4 bytes for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

/** A parsed CIDR: the network address and its prefix length in bits. */
export interface IpCidr {
  addr: IpBytes;
  prefix: number;
}

/** Dotted-quad IPv4 without leading zeros ("10.0.0.1"), or null. */
function parseIpv4(s: string): IpBytes | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** IPv6 with optional "::" and an optional dotted-quad tail ("::ffff:10.0.0.1"), or null. */
function parseIpv6(s: string): IpBytes | null {
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const fields = part.split(":");
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (i === fields.length - 1 && f.includes(".")) {
        const v4 = parseIpv4(f);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(f)) {
        out.push(parseInt(f, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return null;
  const given = head.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return null;
  const groups = [...head, ...new Array<number>(8 - given).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** A bare IPv4 or IPv6 address as bytes, or null when `s` is not one. */
export function parseIp(s: string): IpBytes | null {
  return s.includes(":") ? parseIpv6(s) : parseIpv4(s);
}

/** "10.0.0.0/8" or "fd00::/8" (prefix ≤ 32 or ≤ 128), or null. */
export function parseIpCidr(s: string): IpCidr | null {
  const slash = s.indexOf("/");
  if (slash < 0) return null;
  const addr = parseIp(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(bits)) return null;
  const prefix = Number(bits);
  if (prefix > addr.length * 8) return null;
  return { addr, prefix };
}

/** Whether two addresses are the same (same family, same bytes). */
export function ipEqual(a: IpBytes, b: IpBytes): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `ip` lies in `cidr` (same family, the first `prefix` bits equal). */
export function cidrContainsIp(cidr: IpCidr, ip: IpBytes): boolean {
  if (ip.length !== cidr.addr.length) return false;
  const whole = cidr.prefix >> 3;
  for (let i = 0; i < whole; i++) if (ip[i] !== cidr.addr[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip[whole]! & mask) === (cidr.addr[whole]! & mask);
}
