// Big-endian bytes as lowercase base-36 text of a fixed width, the encoding of SwarmKit's tokens.

/** Big-endian `bytes` as a base-36 number, left-padded with "0" to `width` characters. */
export function toBase36(bytes: Uint8Array, width: number): string {
  const hex = Buffer.from(bytes).toString("hex");
  const n = hex.length === 0 ? 0n : BigInt(`0x${hex}`);
  return n.toString(36).padStart(width, "0");
}
