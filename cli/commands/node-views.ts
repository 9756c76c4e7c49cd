// How nodes look on the command line: the `node ls` row, the docker-shaped view `--format`
// templates read (`.Spec.Role`, `.Status.State`, `.ManagerStatus.Leader`, …), and `--pretty`.
import type { Node } from "../../proto/gen/objects.js";
import type { ListFormat } from "../output/format.js";
import { naturalCompare } from "../output/natural-sort.js";
import { bytesSize, cpus, formatTime, rfc3339 } from "../output/units.js";
import { AVAILABILITIES, MEMBERSHIPS, NODE_STATES, REACHABILITIES, ROLES, capitalize, wordOf } from "../words.js";

/** What `node ls` shows of a manager: Leader, Reachable, Unreachable, or "" for a worker. */
export function managerStatusOf(node: Node): string {
  const ms = node.managerStatus;
  if (!ms) return "";
  return ms.leader ? "Leader" : capitalize(wordOf(REACHABILITIES, ms.reachability));
}

/** One `node ls` row: the fields docker's node templates have (keys sorted, as docker's JSON). */
export function nodeRow(node: Node, selfId: string) {
  return {
    Availability: capitalize(wordOf(AVAILABILITIES, node.spec?.availability ?? 0)),
    EngineVersion: node.description?.engine?.engineVersion ?? "",
    Hostname: node.description?.hostname ?? "",
    ID: node.id,
    ManagerStatus: managerStatusOf(node),
    Self: node.id === selfId,
    Status: capitalize(wordOf(NODE_STATES, node.status?.state ?? 0)),
  };
}

/** `node ls` without --format, as docker prints it. */
export const NODE_LIST: ListFormat = {
  defaultFormat: "table {{.ID}} {{if .Self}}*{{else}} {{end}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}",
  headers: {
    ID: "ID",
    Hostname: "HOSTNAME",
    Status: "STATUS",
    Availability: "AVAILABILITY",
    ManagerStatus: "MANAGER STATUS",
    EngineVersion: "ENGINE VERSION",
  },
};

/** Nodes as `node ls` orders them: by hostname (naturally), then id. */
export function sortNodes(nodes: readonly Node[]): Node[] {
  return [...nodes].sort(
    (a, b) => naturalCompare(a.description?.hostname ?? "", b.description?.hostname ?? "") || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

const labelsMap = (labels: Readonly<Record<string, string>> | undefined) => new Map(Object.entries(labels ?? {}));

/** docker's swarm.Node shape (field names and lower-case enum words), for templates. */
export function nodeView(node: Node) {
  const d = node.description;
  const ms = node.managerStatus;
  return {
    ID: node.id,
    Version: { Index: node.meta?.version?.index ?? 0 },
    CreatedAt: rfc3339(node.meta?.createdAtUnixMs ?? 0),
    UpdatedAt: rfc3339(node.meta?.updatedAtUnixMs ?? 0),
    Spec: {
      Name: node.spec?.annotations?.name ?? "",
      Labels: labelsMap(node.spec?.annotations?.labels),
      Role: wordOf(ROLES, node.spec?.desiredRole ?? 0),
      Availability: wordOf(AVAILABILITIES, node.spec?.availability ?? 0),
      Membership: wordOf(MEMBERSHIPS, node.spec?.membership ?? 0),
    },
    Description: {
      Hostname: d?.hostname ?? "",
      Platform: { Architecture: d?.platform?.architecture ?? "", OS: d?.platform?.os ?? "" },
      Resources: { NanoCPUs: d?.resources?.nanoCpus ?? 0, MemoryBytes: d?.resources?.memoryBytes ?? 0 },
      Engine: {
        EngineVersion: d?.engine?.engineVersion ?? "",
        Labels: labelsMap(d?.engine?.labels),
        Plugins: (d?.engine?.plugins ?? []).map((p) => ({ Type: p.type, Name: p.name })),
      },
    },
    Status: {
      State: wordOf(NODE_STATES, node.status?.state ?? 0),
      Message: node.status?.message ?? "",
      Addr: node.status?.addr ?? "",
    },
    ManagerStatus: ms ? { Leader: ms.leader, Reachability: wordOf(REACHABILITIES, ms.reachability), Addr: ms.addr } : null,
    Role: wordOf(ROLES, node.role),
  };
}

const PRETTY_VALUE_COLUMN = 24;

/** `node inspect --pretty` of one node: docker's human-readable summary. */
export function prettyNode(node: Node): string {
  const v = nodeView(node);
  const rows: [string, string?][] = [];
  const add = (label: string, value?: string) => rows.push([label, value]);
  add("ID:", v.ID);
  if (v.Spec.Name) add("Name:", v.Spec.Name);
  if (v.Spec.Labels.size > 0) {
    add("Labels:");
    for (const [k, val] of [...v.Spec.Labels].sort(([a], [b]) => (a < b ? -1 : 1))) add(` - ${k}${val ? `=${val}` : ""}`);
  }
  add("Hostname:", v.Description.Hostname);
  if (node.meta?.createdAtUnixMs) add("Joined at:", formatTime(node.meta.createdAtUnixMs));
  add("Status:");
  add(" State:", capitalize(v.Status.State));
  if (v.Status.Message) add(" Message:", v.Status.Message);
  add(" Availability:", capitalize(v.Spec.Availability));
  if (v.Status.Addr) add(" Address:", v.Status.Addr);
  if (v.ManagerStatus) {
    add("Manager Status:");
    add(" Address:", v.ManagerStatus.Addr);
    add(" Raft Status:", capitalize(v.ManagerStatus.Reachability));
    add(" Leader:", v.ManagerStatus.Leader ? "Yes" : "No");
  }
  add("Platform:");
  add(" Operating System:", v.Description.Platform.OS);
  add(" Architecture:", v.Description.Platform.Architecture);
  add("Resources:");
  add(" CPUs:", cpus(v.Description.Resources.NanoCPUs));
  add(" Memory:", bytesSize(v.Description.Resources.MemoryBytes));
  const plugins = new Map<string, string[]>();
  for (const p of v.Description.Engine.Plugins) plugins.set(p.Type, [...(plugins.get(p.Type) ?? []), p.Name]);
  if (plugins.size > 0) {
    add("Plugins:");
    for (const [type, names] of [...plugins].sort(([a], [b]) => (a < b ? -1 : 1))) add(`  ${type}:`, names.join(", "));
  }
  add("Engine Version:", v.Description.Engine.EngineVersion);
  if (v.Description.Engine.Labels.size > 0) {
    add("Engine Labels:");
    for (const [k, val] of [...v.Description.Engine.Labels].sort(([a], [b]) => (a < b ? -1 : 1))) add(` - ${k}${val ? `=${val}` : ""}`);
  }
  const tls = node.description?.tlsInfo;
  if (tls && tls.trustRoot.length > 0) {
    add("TLS Info:");
    add(" TrustRoot:");
    add(Buffer.from(tls.trustRoot).toString("utf8").trimEnd());
    add(" Issuer Subject:", Buffer.from(tls.certIssuerSubject).toString("base64"));
    add(" Issuer Public Key:", Buffer.from(tls.certIssuerPublicKey).toString("base64"));
  }
  // Values start in column 24 as in docker's output, further right only for a longer label.
  const width = Math.max(PRETTY_VALUE_COLUMN, ...rows.filter(([, val]) => val !== undefined).map(([label]) => label.length + 2));
  return rows.map(([label, val]) => (val === undefined ? `${label}\n` : `${label.padEnd(width)}${val}\n`)).join("");
}
