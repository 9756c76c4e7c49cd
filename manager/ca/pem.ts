// PEM text ⇄ DER bytes: finding blocks by label and writing them back with 64-column lines.

/** One `-----BEGIN <label>----- … -----END <label>-----` block of a PEM text. */
export interface PemBlock {
  label: string;
  der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/** Every PEM block of `text`, in order; text between blocks is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    blocks.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ""), "base64") });
  }
  return blocks;
}

/** The DER of the first block labelled `label`, or null when `text` has none. */
export function firstPemBlock(text: string, label: string): Buffer | null {
  return pemBlocks(text).find((b) => b.label === label)?.der ?? null;
}

/** `der` as a PEM block labelled `label`, ending with a newline. */
export function toPem(label: string, der: Uint8Array): string {
  const lines = Buffer.from(der).toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
