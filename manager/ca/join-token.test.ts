import { beforeAll, describe, expect, it } from "vitest";
import { createRootCA, rootDigest } from "./certificates.js";
import { generateJoinToken, maskJoinToken, parseJoinToken, tokensEqual } from "./join-token.js";

const fill = (byte: number) => (n: number) => new Uint8Array(n).fill(byte);
const EXPECTED = "expected SWMTKN-1-<50 base-36 chars>-<25 base-36 chars>";

describe("generateJoinToken", () => {
  let root: string;
  let digest: string;
  beforeAll(async () => {
    root = (await createRootCA()).certPem;
    digest = rootDigest(root);
  });

  it("is SWMTKN-1-<root digest>-<16 random bytes in base 36, padded to 25>", () => {
    expect(generateJoinToken(root, fill(0xff))).toBe(`SWMTKN-1-${digest}-f5lxx1zz5pnorynqglhzmsp33`);
    expect(generateJoinToken(root, fill(0))).toBe(`SWMTKN-1-${digest}-${"0".repeat(25)}`);
    const counting = () => Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    expect(generateJoinToken(root, counting)).toBe(`SWMTKN-1-${digest}-025burfp0j7epb0hqfcuw340g`);
  });

  it("asks for 16 bytes and draws a new secret each time by default", () => {
    const asked: number[] = [];
    generateJoinToken(root, (n) => (asked.push(n), new Uint8Array(n)));
    expect(asked).toEqual([16]);
    const a = generateJoinToken(root);
    const b = generateJoinToken(root);
    expect(a).toMatch(/^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    expect(a).not.toBe(b);
    expect(parseJoinToken(a).digest).toBe(parseJoinToken(b).digest);
  });

  it("round-trips through parseJoinToken", () => {
    expect(parseJoinToken(generateJoinToken(root, fill(0xff)))).toEqual({ digest, secret: "f5lxx1zz5pnorynqglhzmsp33" });
  });
});

describe("parseJoinToken", () => {
  const digest = "1".repeat(50);
  const secret = "abcdefghijklmnopqrstuvwxy";

  it.each([
    ["", '""'],
    ["SWMTKN", '"SWMTKN"'],
    ["SWMTKN-1-abc", '"SWMTKN…"'],
    [`SWMTKN-1-${digest}-${secret}z`, `"SWMTKN-1-${digest}-…"`],
    [`SWMTKN-1-${digest}-${secret.toUpperCase()}`, `"SWMTKN-1-${digest}-…"`],
    [`SWMTKN-1-${digest.slice(1)}-${secret}`, `"SWMTKN-1-${digest.slice(1)}-…"`],
    [`SWMTKN-2-1-${digest}-${secret}`, '"SWMTKN-2-1-…"'],
    [`SWMKEY-1-${secret}`, '"SWMKEY…"'],
  ])("refuses %j, never showing the secret", (token, shown) => {
    expect(() => parseJoinToken(token)).toThrow(
      expect.objectContaining({
        name: "InvalidJoinTokenError",
        code: "CA_INVALID_JOIN_TOKEN",
        message: `invalid join token ${shown}: ${EXPECTED}`,
      }),
    );
  });

  it("masks everything after the third dash", () => {
    expect(maskJoinToken(`SWMTKN-1-${digest}-${secret}`)).toBe(`SWMTKN-1-${digest}-…`);
    expect(maskJoinToken("abc")).toBe("abc");
  });
});

describe("tokensEqual", () => {
  it("compares whole tokens, whatever their lengths", () => {
    const t = `SWMTKN-1-${"1".repeat(50)}-${"a".repeat(25)}`;
    expect(tokensEqual(t, `${t}`)).toBe(true);
    expect(tokensEqual(t, `${t.slice(0, -1)}b`)).toBe(false);
    expect(tokensEqual(t, t.slice(0, -1))).toBe(false);
    expect(tokensEqual("", "")).toBe(true);
    expect(tokensEqual("", t)).toBe(false);
  });
});
