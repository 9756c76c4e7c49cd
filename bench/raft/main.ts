// `npm run bench:raft`: three voters as separate processes, loopback gRPC, level with synced writes,
// 128-byte entries. Prints one JSON object per figure.
import { MemberCluster, type MemberProcess } from "../../test/cluster/process-cluster.js";

const ENTRY_BYTES = 128;
const DURATION_MS = Number(process.env["BENCH_DURATION_MS"] ?? 10_000);
const FAILOVER_RUNS = Number(process.env["BENCH_FAILOVER_RUNS"] ?? 5);
const common = { bench: "raft", members: 3, entry_bytes: ENTRY_BYTES, transport: "grpc-loopback", storage: "level-sync" };

function print(metric: string, value: number, unit: string, conditions: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...common, metric, value: Math.round(value * 100) / 100, unit, ...conditions }));
}

async function leaderOf(c: MemberCluster): Promise<MemberProcess> {
  let l: MemberProcess | null = null;
  await c.waitFor(async () => (l = await c.leader()) !== null, "a leader");
  return l!;
}

async function throughputAndLatency(): Promise<void> {
  const c = await MemberCluster.start({ size: 3, machine: "hash" });
  try {
    const leader = await leaderOf(c);
    await leader.request("load", { durationMs: 1000, size: ENTRY_BYTES, concurrency: 64 }); // warm-up
    for (const concurrency of [1, 64, 512]) {
      const r = await leader.request("load", { durationMs: DURATION_MS, size: ENTRY_BYTES, concurrency });
      if (r.error) throw new Error(r.error);
      const perS = (Number(r["committed"]) / Number(r["elapsedMs"])) * 1000;
      print("proposals_per_s", perS, "1/s", { concurrency, duration_s: DURATION_MS / 1000, errors: r["errors"], p99_ms: Math.round(Number(r["p99"])) });
    }
    const r = await leader.request("load", { durationMs: DURATION_MS, size: ENTRY_BYTES, rate: 1000 });
    if (r.error) throw new Error(r.error);
    const cond = { offered_per_s: 1000, duration_s: DURATION_MS / 1000, committed: r["committed"], errors: r["errors"] };
    print("commit_latency_p50_ms", Number(r["p50"]), "ms", cond);
    print("commit_latency_p99_ms", Number(r["p99"]), "ms", cond);
  } finally {
    await c.close();
  }
}

/** Kills the leader with SIGKILL; time until a proposal commits through a new leader. */
async function failoverOnce(flags: string[]): Promise<number> {
  const c = await MemberCluster.start({ size: 3, machine: "hash", flags });
  try {
    const leader = await leaderOf(c);
    await leader.request("load", { durationMs: 500, size: ENTRY_BYTES, concurrency: 8 });
    const survivors = c.members.filter((m) => m !== leader);
    const attempts = survivors.map((m) => m.request("propose-until", { timeoutMs: 8_000 }));
    await new Promise((r) => setTimeout(r, 50)); // let both survivors start trying
    const t0 = Date.now();
    await leader.kill9();
    const first = await Promise.any(
      attempts.map((p) => p.then((r) => (r["committedAt"] ? Number(r["committedAt"]) : Promise.reject(new Error(String(r.error)))))),
    );
    return first - t0;
  } finally {
    await c.close();
  }
}

async function failover(label: string, flags: string[]): Promise<void> {
  const runs: number[] = [];
  for (let i = 0; i < FAILOVER_RUNS; i++) runs.push(await failoverOnce(flags));
  const sorted = [...runs].sort((a, b) => a - b);
  print(label, sorted[Math.floor(sorted.length / 2)]!, "ms", {
    statistic: "median",
    runs,
    tick_ms: 100,
    election_ticks: 10,
    fast_failover: flags.length === 0,
  });
}

await throughputAndLatency();
await failover("failover_ms", []);
await failover("failover_ms_timeout_only", ["--no-fast-failover"]);
