// `npm run bench:store`: three managers as separate processes (Raft, store and Control API on
// loopback gRPC, synced level). Prints one JSON object per figure.
import * as grpc from "@grpc/grpc-js";
import { ControlClient, type WatchMessage } from "../../proto/gen/control.js";
import { ServiceSpec } from "../../proto/gen/specs.js";
import { MANAGER, MemberCluster, type MemberProcess } from "../../test/cluster/process-cluster.js";

const DURATION_MS = Number(process.env["BENCH_DURATION_MS"] ?? 10_000);
const SERVICES = Number(process.env["BENCH_SERVICES"] ?? 10_000);
const TASKS_PER_SERVICE = Number(process.env["BENCH_TASKS_PER_SERVICE"] ?? 10);
/** BENCH_TRACE=1 lists the slow watch events on stderr (wall clock, to line up with members' --trace-gc marks). */
const TRACE = process.env["BENCH_TRACE"] === "1";
/** BENCH_BULK_FIRST=1 loads the bulk state before the watch window (after BENCH_SETTLE_MS) instead of after it. */
const BULK_FIRST = process.env["BENCH_BULK_FIRST"] === "1";
const SETTLE_MS = Number(process.env["BENCH_SETTLE_MS"] ?? 0);
const common = { bench: "store", managers: 3, transport: "grpc-loopback", storage: "level-sync" };

function print(metric: string, value: number, unit: string, conditions: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...common, metric, value: Math.round(value * 100) / 100, unit, ...conditions }));
}

function spec(name: string): ServiceSpec {
  return ServiceSpec.fromPartial({
    annotations: { name, labels: { bench: "1" } },
    mode: { $case: "replicated", replicated: { replicas: 1 } },
    task: { runtime: { $case: "container", container: { image: "busybox:latest", args: ["sleep", "1000"] } } },
  });
}

function create(c: ControlClient, name: string): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) => c.createService({ spec: spec(name) }, (err) => resolve(err)));
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

async function writes(leader: MemberProcess): Promise<void> {
  const c = new ControlClient(leader.addr, grpc.credentials.createInsecure());
  let committed = 0;
  let errors = 0;
  let seq = 0;
  const end = performance.now() + DURATION_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        const err = await create(c, `w-${++seq}`);
        if (err) errors++;
        else committed++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  c.close();
  print("control_writes_per_s", (committed / elapsed) * 1000, "1/s", { concurrency: 64, duration_s: DURATION_MS / 1000, errors, rpc: "CreateService" });
}

/** Creates at a steady rate through the leader; a follower's watch timestamps each event's arrival. */
async function watchLatency(cluster: MemberCluster, leader: MemberProcess, follower: MemberProcess): Promise<void> {
  const writer = new ControlClient(leader.addr, grpc.credentials.createInsecure());
  const watcher = new ControlClient(follower.addr, grpc.credentials.createInsecure());
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const slow: { at: number; ms: number }[] = [];
  if (TRACE) process.stderr.write(`# writes to member ${leader.id} (leader), watches member ${follower.id}\n`);
  const stream = watcher.watch({ kinds: ["service"], includeOldObject: false } as never);
  stream.on("data", (m: WatchMessage) => {
    const now = performance.now();
    for (const e of m.events) {
      const o = e.object?.object;
      const name = o?.$case === "service" ? o.service.spec?.annotations?.name : undefined;
      const t = name ? sentAt.get(name) : undefined;
      if (t !== undefined) {
        latencies.push(now - t);
        if (TRACE && now - t > 20) slow.push({ at: Math.round(Date.now() - (now - t)), ms: Math.round(now - t) });
      }
    }
  });
  stream.on("error", () => undefined);
  await new Promise((r) => setTimeout(r, 500));
  for (const m of cluster.members) await m.request("loop-delay");
  const windowStart = Date.now();
  const rate = 200;
  const end = performance.now() + DURATION_MS;
  let n = 0;
  const inflight: Promise<unknown>[] = [];
  while (performance.now() < end) {
    const name = `lat-${++n}`;
    const sent = performance.now();
    sentAt.set(name, sent);
    inflight.push(
      create(writer, name).then((err) => {
        const ms = performance.now() - sent;
        if (TRACE && ms > 20) process.stderr.write(`# slow create sent at wall ${Math.round(Date.now() - ms)}: ${Math.round(ms)} ms\n`);
        return err;
      }),
    );
    await new Promise((r) => setTimeout(r, 1000 / rate));
  }
  await Promise.all(inflight);
  await new Promise((r) => setTimeout(r, 500));
  stream.cancel();
  writer.close();
  watcher.close();
  latencies.sort((a, b) => a - b);
  if (TRACE) {
    for (const s of slow) process.stderr.write(`# slow event sent at wall ${s.at}: ${s.ms} ms\n`);
    process.stderr.write(`# watch window from wall ${windowStart} to ${Date.now()}\n`);
  }
  const stalls = await Promise.all(cluster.members.map((m) => m.request("loop-delay")));
  const cond = {
    loop_delay_max_ms: stalls.map((s) => Math.round(Number(s["maxMs"]))),
    snapshots_during: stalls.map((s) => s["snapshots"]), offered_per_s: rate, watched_on: "follower", events: latencies.length, sent: n, measured: "CreateService call start to event arrival" };
  print("watch_event_latency_p50_ms", quantile(latencies, 0.5), "ms", cond);
  print("watch_event_latency_p99_ms", quantile(latencies, 0.99), "ms", cond);
}

async function bulk(leader: MemberProcess, cluster: MemberCluster): Promise<void> {
  const p = await leader.request("populate", { services: SERVICES, tasksPerService: TASKS_PER_SERVICE });
  if (p.error) throw new Error(String(p.error));
  const cond = { services: SERVICES, tasks: SERVICES * TASKS_PER_SERVICE };
  if (Number(p["failed"]) > 0) throw new Error(`populate: ${String(p["failed"])} of ${SERVICES} transactions failed`);
  print("populate_s", Number(p["ms"]) / 1000, "s", { ...cond, via: "store.batch on the leader, 64 in flight" });
  let counts: Record<string, unknown>[] = [];
  await cluster
    .waitFor(async () => {
      counts = await Promise.all(cluster.members.map((m) => m.request("count")));
      return counts.every((c) => Number(c["tasks"]) >= SERVICES * TASKS_PER_SERVICE);
    }, "every manager to hold the bulk state", 120_000)
    .catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(counts)}`);
    });
  const rss = await leader.request("rss");
  print("leader_rss_mb", Number(rss["rssBytes"]) / 1048576, "MB", { ...cond, measured: "after 1 s idle and two full GCs", heap_mb: Math.round(Number(rss["heapBytes"]) / 1048576), heap_total_mb: Math.round(Number(rss["heapTotal"]) / 1048576), external_mb: Math.round(Number(rss["external"]) / 1048576), array_buffers_mb: Math.round(Number(rss["arrayBuffers"]) / 1048576), raft: rss["raft"] });
  const sr = await leader.request("snapshot-restore");
  print("snapshot_restore_s", (Number(sr["encodeMs"]) + Number(sr["restoreMs"])) / 1000, "s", {
    ...cond,
    snapshot_mb: Math.round(Number(sr["bytes"]) / 1048576),
    encode_s: Math.round(Number(sr["encodeMs"])) / 1000,
    restore_s: Math.round(Number(sr["restoreMs"])) / 1000,
  });
}

const cluster = await MemberCluster.start({ size: 3, program: MANAGER });
try {
  let leader: MemberProcess | null = null;
  await cluster.waitFor(async () => (leader = await cluster.leader()) !== null, "a leader");
  const l = leader as unknown as MemberProcess;
  const follower = cluster.members.find((m) => m !== l)!;
  await writes(l);
  if (BULK_FIRST) {
    // The watch window with the bulk state in the store (its snapshots are then the largest).
    await bulk(l, cluster);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await watchLatency(cluster, l, follower);
  } else {
    await watchLatency(cluster, l, follower);
    await bulk(l, cluster);
  }
} finally {
  await cluster.close();
}
