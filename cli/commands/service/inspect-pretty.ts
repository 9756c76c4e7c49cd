// `service inspect --pretty`: docker's human-readable layout, tabs included, line for line (its
// serviceInspectPrettyTemplate), plus the job modes docker's layout leaves blank.
import type { Service } from "../../../proto/gen/objects.js";
import type { UpdateConfig } from "../../../proto/gen/types.js";
import { formatDuration, humanDuration } from "../../output/duration.js";
import { bytesSize, cpus } from "../../output/units.js";
import { ENDPOINT_MODES, FAILURE_ACTIONS, MOUNT_TYPES, PORT_PROTOCOLS, PUBLISH_MODES, UPDATE_ORDERS, UPDATE_STATES, wordOf } from "../../words.js";

const sorted = (o: Readonly<Record<string, string>>) => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
/** Go's %v of a []string: "[a b]". */
const goList = (items: readonly string[]) => `[${items.join(" ")}]`;

function updateConfigLines(title: string, orderLabel: string, u: UpdateConfig): string[] {
  return [
    `${title}:`,
    ` Parallelism:\t${u.parallelism}`,
    ...(u.delayMs > 0 ? [` Delay:\t\t${formatDuration(u.delayMs)}`] : []),
    ` On failure:\t${wordOf(FAILURE_ACTIONS, u.failureAction)}`,
    ...(u.monitorMs ? [` Monitoring Period: ${formatDuration(u.monitorMs)}`] : []),
    ` Max failure ratio: ${u.maxFailureRatio}`,
    ` ${orderLabel}${wordOf(UPDATE_ORDERS, u.order)}`,
  ];
}

function modeLines(svc: Service): string[] {
  const mode = svc.spec?.mode;
  switch (mode?.$case) {
    case "global":
      return ["Service Mode:\tGlobal"];
    case "replicated":
      return ["Service Mode:\tReplicated", ` Replicas:\t${mode.replicated.replicas}`];
    case "replicatedJob":
      return ["Service Mode:\tReplicated Job", ` Max Concurrent:\t${mode.replicatedJob.maxConcurrent}`, ` Total Completions:\t${mode.replicatedJob.totalCompletions}`];
    case "globalJob":
      return ["Service Mode:\tGlobal Job"];
    default:
      return ["Service Mode:"];
  }
}

/** One service in docker's `--pretty` layout (a blank line before and after, as docker prints it). */
export function prettyService(svc: Service, now: number): string {
  const spec = svc.spec;
  const task = spec?.task;
  const c = task?.runtime?.$case === "container" ? task.runtime.container : undefined;
  const lines: string[] = ["", `ID:\t\t${svc.id}`, `Name:\t\t${spec?.annotations?.name ?? ""}`];
  const labels = sorted(spec?.annotations?.labels ?? {});
  if (labels.length > 0) lines.push("Labels:", ...labels.map(([k, v]) => ` ${k}${v ? `=${v}` : ""}`));
  lines.push(...modeLines(svc));
  const u = svc.updateStatus;
  if (u && u.state !== 0) {
    lines.push("UpdateStatus:", ` State:\t\t${wordOf(UPDATE_STATES, u.state)}`);
    if (u.startedAtUnixMs) lines.push(` Started:\t${humanDuration(now - u.startedAtUnixMs)} ago`);
    if (u.state === UPDATE_STATES.completed && u.completedAtUnixMs) lines.push(` Completed:\t${humanDuration(now - u.completedAtUnixMs)} ago`);
    lines.push(` Message:\t${u.message}`);
  }
  const placement = task?.placement;
  lines.push("Placement:");
  if (placement?.constraints.length) lines.push(` Constraints:\t${goList(placement.constraints)}`);
  if (placement?.preferences.length) lines.push(` Preferences:   ${goList(placement.preferences.map((p) => `spread=${p.spread?.spreadDescriptor ?? ""}`))}`);
  if (placement?.maxReplicas) lines.push(` Max Replicas Per Node:   ${placement.maxReplicas}`);
  if (spec?.update) lines.push(...updateConfigLines("UpdateConfig", "Update order:      ", spec.update));
  if (spec?.rollback) lines.push(...updateConfigLines("RollbackConfig", "Rollback order:    ", spec.rollback));
  lines.push("ContainerSpec:", ` Image:\t\t${c?.image ?? ""}`);
  if (c?.args.length) lines.push(` Args:\t\t${c.args.map((a) => `${a} `).join("")}`);
  if (c?.env.length) lines.push(` Env:\t\t${c.env.map((e) => `${e} `).join("")}`);
  if (c?.dir) lines.push(` Dir:\t\t${c.dir}`);
  if (c?.init !== undefined) lines.push(` Init:\t\t${c.init}`);
  if (c?.user) lines.push(` User: ${c.user}`);
  if (c && (c.capabilityAdd.length > 0 || c.capabilityDrop.length > 0)) {
    lines.push("Capabilities:");
    if (c.capabilityAdd.length > 0) lines.push(` Add: ${c.capabilityAdd.join(", ")}`);
    if (c.capabilityDrop.length > 0) lines.push(` Drop: ${c.capabilityDrop.join(", ")}`);
  }
  const sysctls = sorted(c?.sysctls ?? {});
  if (sysctls.length > 0) lines.push("SysCtls:", ...sysctls.map(([k, v]) => ` ${k}${v ? `: ${v}` : ""}`));
  const ulimits = [...(c?.ulimits ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1));
  if (ulimits.length > 0) lines.push("Ulimits:", ...ulimits.map((l) => ` ${l.name}: ${l.soft}:${l.hard}`));
  if (c?.mounts.length) {
    lines.push("Mounts:");
    for (const m of c.mounts) lines.push(` Target:\t${m.target}`, `  Source:\t${m.source}`, `  ReadOnly:\t${m.readOnly}`, `  Type:\t\t${wordOf(MOUNT_TYPES, m.type)}`);
  }
  if (c?.configs.length) lines.push("Configs:", ...c.configs.flatMap((r) => [` Target:\t${r.file?.name ?? ""}`, `  Source:\t${r.configName}`]));
  if (c?.secrets.length) lines.push("Secrets:", ...c.secrets.flatMap((r) => [` Target:\t${r.file?.name ?? ""}`, `  Source:\t${r.secretName}`]));
  const log = task?.logDriver;
  if (log) {
    lines.push("Log Driver:");
    if (log.name) lines.push(` Name:\t\t${log.name}`);
    const opts = sorted(log.options);
    if (opts.length > 0) lines.push(" LogOpts:", ...opts.map(([k, v]) => `  ${k}${v ? `:       ${v}` : ""}`));
    lines.push("");
  }
  const res = task?.resources;
  if (res) {
    lines.push("Resources:");
    const r = res.reservations;
    if (r && (r.nanoCpus > 0 || r.memoryBytes > 0)) {
      lines.push(" Reservations:");
      if (r.nanoCpus > 0) lines.push(`  CPU:\t\t${cpus(r.nanoCpus)}`);
      if (r.memoryBytes > 0) lines.push(`  Memory:\t${bytesSize(r.memoryBytes)}`);
    }
    const l = res.limits;
    if (l && (l.nanoCpus > 0 || l.memoryBytes > 0 || (c?.pidsLimit ?? 0) > 0)) {
      lines.push(" Limits:");
      if (l.nanoCpus > 0) lines.push(`  CPU:\t\t${cpus(l.nanoCpus)}`);
      if (l.memoryBytes > 0) lines.push(`  Memory:\t${bytesSize(l.memoryBytes)}`);
    }
  }
  if ((c?.pidsLimit ?? 0) > 0) lines.push(`  PIDs:\t\t${c?.pidsLimit}`);
  if (task?.networks.length) lines.push(`Networks:${task.networks.map((n) => ` ${n.target}`).join("")} `);
  lines.push(`Endpoint Mode:\t${wordOf(ENDPOINT_MODES, spec?.endpoint?.mode ?? ENDPOINT_MODES.vip)}`);
  const ports = svc.endpoint?.ports ?? [];
  if (ports.length > 0) {
    lines.push("Ports:");
    ports.forEach((p, i) => {
      lines.push(
        ` PublishedPort = ${p.publishedPort}`,
        `  Protocol = ${wordOf(PORT_PROTOCOLS, p.protocol)}`,
        `  TargetPort = ${p.targetPort}`,
        `  PublishMode = ${wordOf(PUBLISH_MODES, p.publishMode)}${i === ports.length - 1 ? " " : ""}`,
      );
    });
  }
  const h = c?.healthcheck;
  if (h) {
    lines.push(
      " Healthcheck:",
      `  Interval = ${formatDuration(h.intervalMs)}`,
      `  Retries = ${h.retries}`,
      `  StartPeriod =\t${formatDuration(h.startPeriodMs)}`,
      `  Timeout =\t${formatDuration(h.timeoutMs)}`,
    );
    if (h.test.length > 0) {
      lines.push("  Tests:", ...h.test.map((t, i) => `\t Test = ${t}${i === h.test.length - 1 ? " " : ""}`));
    }
  }
  return `${lines.join("\n")}\n\n`;
}
