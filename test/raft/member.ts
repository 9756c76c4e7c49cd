// One Raft member as its own process, for multi-process tests and benchmarks: loopback gRPC,
// level on disk, a small state machine, and a JSON-lines control channel on stdin/stdout.
//   node dist/test/raft/member.js --id 1 --dir D --port P [--bootstrap | --join 1=127.0.0.1:P]
//     [--machine set|hash] [--tick-ms 100] [--no-fast-failover]
import * as grpc from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { RaftNode, type StateMachine } from "../../manager/raft/node/index.js";
import { RaftTransport } from "../../manager/raft/transport/index.js";
import { send, serveChannel, type ChannelRequest } from "../cluster/control-channel.js";

const { values: args } = parseArgs({
  options: {
    id: { type: "string" },
    dir: { type: "string" },
    port: { type: "string" },
    bootstrap: { type: "boolean", default: false },
    join: { type: "string", default: "" },
    machine: { type: "string", default: "set" },
    "tick-ms": { type: "string", default: "100" },
    "no-fast-failover": { type: "boolean", default: false },
  },
});

const dec = new TextDecoder();
const enc = new TextEncoder();

/** Keeps every applied payload (to prove nothing acknowledged is lost) and a hash chain of them. */
class SetMachine implements StateMachine {
  items: string[] = [];
  hash = "";
  constructor(private readonly keepItems: boolean) {}
  apply(data: Uint8Array): unknown {
    const s = dec.decode(data);
    if (this.keepItems) this.items.push(s);
    this.hash = createHash("sha256").update(this.hash).update(data).digest("hex").slice(0, 32);
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify({ items: this.items, hash: this.hash }));
  }
  restore(data: Uint8Array): void {
    const v = data.length ? (JSON.parse(dec.decode(data)) as { items: string[]; hash: string }) : { items: [], hash: "" };
    this.items = v.items;
    this.hash = v.hash;
  }
}

const id = Number(args.id);
const port = Number(args.port);
const addr = `127.0.0.1:${port}`;
const sm = new SetMachine(args.machine === "set");
const init = args.bootstrap
  ? { bootstrap: { addr } }
  : {
      join: {
        members: args.join
          .split(",")
          .filter(Boolean)
          .map((p) => {
            const [mid, maddr] = p.split("=");
            return { id: Number(mid), addr: maddr! };
          }),
      },
    };



const node = await RaftNode.open(
  {
    id,
    clusterId: "bench-cluster",
    dataDir: args.dir!,
    stateMachine: sm,
    clientCredentials: grpc.credentials.createInsecure(),
    tickMs: Number(args["tick-ms"]),
    fastFailover: !args["no-fast-failover"],
  },
  init,
);
const { server } = await RaftTransport.listen(node.transport, addr, grpc.ServerCredentials.createInsecure());
node.on("fatal", (e: Error) => {
  send({ event: "fatal", error: e.message });
  process.exit(3);
});
node.start();
send({ event: "ready", id, addr });

/** Proposes `count` payloads of `size` bytes with `concurrency` in flight, or at `rate` per second. */
async function load(o: { durationMs: number; size: number; concurrency?: number; rate?: number }): Promise<object> {
  const latencies: number[] = [];
  let errors = 0;
  let seq = 0;
  const end = performance.now() + o.durationMs;
  const payload = (): Uint8Array => {
    const b = new Uint8Array(o.size);
    new DataView(b.buffer).setFloat64(0, ++seq);
    return b;
  };
  const one = async (): Promise<void> => {
    const t = performance.now();
    try {
      await node.propose(payload());
      latencies.push(performance.now() - t);
    } catch {
      errors++;
    }
  };
  const started = performance.now();
  if (o.rate) {
    const inflight = new Set<Promise<void>>();
    const interval = 1000 / o.rate;
    let next = performance.now();
    while (performance.now() < end) {
      const p = one().finally(() => inflight.delete(p));
      inflight.add(p);
      next += interval;
      const wait = next - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      else if (inflight.size % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(inflight);
  } else {
    await Promise.all(
      Array.from({ length: o.concurrency ?? 1 }, async () => {
        while (performance.now() < end) await one();
      }),
    );
  }
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const q = (x: number): number => latencies[Math.min(latencies.length - 1, Math.floor(x * latencies.length))] ?? 0;
  return { committed: latencies.length, errors, elapsedMs: elapsed, p50: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? 0 };
}

/** Retries a proposal until it commits here; answers the wall-clock time it committed. */
async function proposeUntil(timeoutMs: number): Promise<object> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      await node.propose(enc.encode(`probe-${id}-${Date.now()}`));
      return { committedAt: Date.now() };
    } catch {
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  return { error: "no commit before the timeout" };
}

async function handle(req: ChannelRequest): Promise<object> {
  switch (req.op) {
    case "propose":
      return { result: await node.propose(enc.encode(String(req["data"]))) };
    case "add":
      await node.addMember(Number(req["id"]), String(req["addr"]));
      return { ok: true };
    case "status": {
      const s = node.status();
      return { id, state: s.state, term: s.term, lead: s.lead, commit: s.commit, applied: s.applied, voters: s.confState.voters, snapshotIndex: s.snapshotIndex };
    }
    case "state":
      await node.read();
      return { count: sm.items.length, hash: sm.hash, items: req["items"] ? sm.items : undefined };
    case "load":
      return load(req as unknown as Parameters<typeof load>[0]);
    case "propose-until":
      return proposeUntil(Number(req["timeoutMs"] ?? 10_000));
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

serveChannel(handle, async () => {
  await node.stop();
  server.forceShutdown();
});
