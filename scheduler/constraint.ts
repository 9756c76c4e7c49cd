// Placement constraints and spread descriptors: the syntax, and how a constraint is evaluated on a node.
//   node.labels.zone==east   node.role!=manager   node.hostname==h1   node.id==…   node.ip==10.0.0.0/8
//   node.platform.os==linux  node.platform.arch==amd64   engine.labels.storage==ssd
// As in Docker, values compare case-insensitively (label names are case-sensitive), and a missing value
// (an absent label, no hostname) is "": `!=` on it holds, `==` does not.
import type { Node } from "../proto/gen/objects.js";
import { NodeRole } from "../proto/gen/types.js";
import { cidrContainsIp, ipEqual, parseIp, parseIpCidr } from "./ip.js";
import { normalizeArch } from "./platform.js";

/** One parsed constraint: `key` as written (lower-cased up to the label name), `==` or `!=`, and the value. */
export interface Constraint {
  key: string;
  op: "==" | "!=";
  value: string;
}

const FIXED_KEYS = ["node.id", "node.hostname", "node.ip", "node.role", "node.platform.os", "node.platform.arch"] as const;
const NODE_LABELS = "node.labels.";
const ENGINE_LABELS = "engine.labels.";
const LABEL_PREFIXES = [NODE_LABELS, ENGINE_LABELS] as const;

/** What a constraint or spread key may be, for error messages. */
export const CONSTRAINT_KEYS_HELP = `${FIXED_KEYS.join(", ")}, ${NODE_LABELS}<label> or ${ENGINE_LABELS}<label>`;

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
  if (key === "node.ip" && !parseIp(value) && !parseIpCidr(value)) {
    throw new Error("node.ip takes an IP address or a CIDR (10.0.0.0/8)");
  }
  return { key, op, value };
}

/** The value a node has for a constraint or spread key ("" when it has none). Keys are canonical (constraintKey). */
export function nodeValue(node: Node, key: string): string {
  switch (key) {
    case "node.id":
      return node.id;
    case "node.hostname":
      return node.description?.hostname ?? "";
    case "node.ip":
      return node.status?.addr ?? "";
    case "node.role":
      return node.role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker";
    case "node.platform.os":
      return node.description?.platform?.os ?? "";
    case "node.platform.arch":
      return node.description?.platform?.architecture ?? "";
  }
  if (key.startsWith(NODE_LABELS)) return node.spec?.annotations?.labels[key.slice(NODE_LABELS.length)] ?? "";
  if (key.startsWith(ENGINE_LABELS)) return node.description?.engine?.labels[key.slice(ENGINE_LABELS.length)] ?? "";
  return "";
}

/** Whether the node's value for `c.key` equals `c.value` (IP/CIDR aware for node.ip, arch aliases for node.platform.arch). */
function valueMatches(node: Node, c: Constraint): boolean {
  const have = nodeValue(node, c.key);
  if (c.key === "node.ip") {
    const nodeIp = parseIp(have);
    if (!nodeIp) return false;
    const ip = parseIp(c.value);
    if (ip) return ipEqual(ip, nodeIp);
    const cidr = parseIpCidr(c.value);
    return cidr !== null && cidrContainsIp(cidr, nodeIp);
  }
  if (c.key === "node.platform.arch") return normalizeArch(have) === normalizeArch(c.value);
  return have.toLowerCase() === c.value.toLowerCase();
}

/** Whether one constraint holds on the node. A node.ip constraint whose value is neither IP nor CIDR never holds. */
export function constraintHolds(node: Node, c: Constraint): boolean {
  if (c.key === "node.ip" && !parseIp(c.value) && !parseIpCidr(c.value)) return false;
  return valueMatches(node, c) === (c.op === "==");
}

/** Whether every constraint holds on the node. */
export function nodeMatchesConstraints(node: Node, constraints: readonly Constraint[]): boolean {
  for (const c of constraints) if (!constraintHolds(node, c)) return false;
  return true;
}
