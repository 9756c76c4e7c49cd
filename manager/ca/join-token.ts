// Join tokens: SWMTKN-1-<root CA digest>-<secret>. The digest lets a joining node check the root it
// fetched over an unverified connection; the secret proves it may join (one token per role).
import { createHash, randomBytes as cryptoRandomBytes, timingSafeEqual } from "node:crypto";
import { toBase36 } from "./base36.js";
import { InvalidJoinTokenError } from "./errors.js";
import { ROOT_DIGEST_LENGTH, rootDigest } from "./node-certificate.js";

/** Prefix of every join token (version 1; SwarmKit's FIPS tokens, SWMTKN-2-1-…, are not supported). */
export const JOIN_TOKEN_PREFIX = "SWMTKN-1-";
/** Random bytes in a token's secret. */
export const JOIN_TOKEN_SECRET_BYTES = 16;
/** Width of a token's secret: 128 bits need 25 base-36 digits. */
export const JOIN_TOKEN_SECRET_LENGTH = 25;

const TOKEN = new RegExp(`^SWMTKN-1-([0-9a-z]{${ROOT_DIGEST_LENGTH}})-([0-9a-z]{${JOIN_TOKEN_SECRET_LENGTH}})$`);
const EXPECTED = `expected ${JOIN_TOKEN_PREFIX}<${ROOT_DIGEST_LENGTH} base-36 chars>-<${JOIN_TOKEN_SECRET_LENGTH} base-36 chars>`;

/** The parts of a join token: the root CA digest and the secret, both lowercase base 36. */
export interface JoinTokenParts {
  digest: string;
  secret: string;
}

/** A new join token for the cluster whose root CA is `rootCertPem`; `randomBytes` is injectable for tests. */
export function generateJoinToken(
  rootCertPem: string,
  randomBytes: (n: number) => Uint8Array = cryptoRandomBytes,
): string {
  const secret = randomBytes(JOIN_TOKEN_SECRET_BYTES);
  return `${JOIN_TOKEN_PREFIX}${rootDigest(rootCertPem)}-${toBase36(secret, JOIN_TOKEN_SECRET_LENGTH)}`;
}

/**
 * `token` fit for an error message: everything after the third "-" (where the secret sits) is
 * replaced by "…"; a text with fewer dashes shows at most its first 6 characters.
 */
export function maskJoinToken(token: string): string {
  const parts = token.split("-");
  if (parts.length >= 4) return `${parts.slice(0, 3).join("-")}-…`;
  return token.length > 6 ? `${token.slice(0, 6)}…` : token;
}

/** Splits a join token; throws {@link InvalidJoinTokenError} (with the secret masked) when malformed. */
export function parseJoinToken(token: string): JoinTokenParts {
  const m = typeof token === "string" ? TOKEN.exec(token) : null;
  if (!m) {
    const shown = typeof token === "string" ? JSON.stringify(maskJoinToken(token)) : typeof token;
    throw new InvalidJoinTokenError(`invalid join token ${shown}: ${EXPECTED}`);
  }
  return { digest: m[1]!, secret: m[2]! };
}

/**
 * True when both tokens are the same text. Constant time in their content and length: both are
 * hashed to 32 bytes, which are compared with `timingSafeEqual`.
 */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a, "utf8").digest();
  const hb = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(ha, hb);
}
