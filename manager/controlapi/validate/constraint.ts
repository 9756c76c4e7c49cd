// Placement constraints and spread descriptors: the syntax the scheduler evaluates.
//   node.labels.zone==east   node.role!=manager   node.hostname==h1   node.id==…   node.ip==10.0.0.0/8
//   node.platform.os==linux  node.platform.arch==amd64   engine.labels.storage==ssd
import { isIpAddress, parseCidr } from "./common.js";

/** One parsed constraint: `key` as written (lower-cased up to the label name), `==` or `!=`, and the value. */
export interface Constraint {
  key: string;
  op: "==" | "!=";
  value: string;
}

const FIXED_KEYS = ["node.id", "node.hostname", "node.ip", "node.role", "node.platform.os", "node.platform.arch"] as const;
const LABEL_PREFIXES = ["node.labels.", "engine.labels."] as const;

/** What a constraint or spread key may be, for error messages. */
export const CONSTRAINT_KEYS_HELP = `${FIXED_KEYS.join(", ")}, node.labels.<label> or engine.labels.<label>`;

/** The canonical key, or null when `key` names nothing a node has. Label names keep their case. */
export function constraintKey(key: string): string | null {
  const lower = key.toLowerCase();
  if ((FIXED_KEYS as readonly string[]).includes(lower)) return lower;
  for (const p of LABEL_PREFIXES) {
    if (lower.startsWith(p) && key.length > p.length) return p + key.slice(p.length);
  }
  return null;
}

/** Parses one constraint; throws an Error whose message says what is wrong (without the expression). */
export function parseConstraint(expr: string): Constraint {
  const eq = expr.indexOf("==");
  const ne = expr.indexOf("!=");
  const at = eq >= 0 && (ne < 0 || eq < ne) ? eq : ne;
  if (at < 0) throw new Error("constraints are KEY==VALUE or KEY!=VALUE");
  const op = expr.slice(at, at + 2) as "==" | "!=";
  const rawKey = expr.slice(0, at).trim();
  const value = expr.slice(at + 2).trim();
  if (rawKey === "" || value === "") throw new Error("constraints are KEY==VALUE or KEY!=VALUE, with a key and a value");
  if (value.includes("==") || value.includes("!=")) throw new Error("a constraint has one operator; give several constraints to combine them");
  const key = constraintKey(rawKey);
  if (key === null) throw new Error(`the key must be ${CONSTRAINT_KEYS_HELP}`);
  if (key === "node.role" && !["manager", "worker"].includes(value.toLowerCase())) {
    throw new Error("node.role is manager or worker");
  }
  if (key === "node.ip" && !isIpAddress(value) && !parseCidr(value)) {
    throw new Error("node.ip takes an IP address or a CIDR (10.0.0.0/8)");
  }
  return { key, op, value };
}
