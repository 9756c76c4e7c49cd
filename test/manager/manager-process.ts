// One manager as its own process, for multi-process tests and `bench:store`: Raft and the Control
// API on one gRPC server (insecure loopback credentials until the security issue), and a JSON-lines
// channel on stdin/stdout for what the test drives from outside (membership, figures, bulk load).
//   node dist/test/manager/manager-process.js --raft-id 1 --dir D --port P [--bootstrap | --join 1=ADDR]
import * as grpc from "@grpc/grpc-js";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Service, Task } from "../../proto/gen/objects.js";
import { ControlService, addControlService } from "../../manager/controlapi/index.js";
import { Manager } from "../../manager/manager.js";
import { MemoryStore, SCHEMAS, protoCodec, stampMeta, type StoreObject } from "../../manager/store/index.js";
import { send, serveChannel, type ChannelRequest } from "../cluster/control-channel.js";

const { values: args } = parseArgs({
  options: {
    "raft-id": { type: "string" },
    dir: { type: "string" },
    port: { type: "string" },
    bootstrap: { type: "boolean", default: false },
    join: { type: "string", default: "" },
    "tick-ms": { type: "string", default: "100" },
  },
});

const raftId = Number(args["raft-id"]);
const addr = `127.0.0.1:${args.port}`;
const init = args.bootstrap
  ? { bootstrap: { addr } }
  : {
      join: {
        members: args.join
          .split(",")
          .filter(Boolean)
          .map((p) => ({ id: Number(p.split("=")[0]), addr: p.split("=")[1]! })),
      },
    };

const creds = grpc.credentials.createInsecure();
// MANAGER_SNAPSHOT_INTERVAL overrides Raft's snapshot interval (e.g. to put snapshots in a bench window).
const snapshotInterval = Number(process.env["MANAGER_SNAPSHOT_INTERVAL"] ?? 0);
const mgr = await Manager.open(
  {
    raftId,
    clusterId: "test-cluster",
    dataDir: args.dir!,
    clientCredentials: creds,
    tickMs: Number(args["tick-ms"]),
    ...(snapshotInterval > 0 ? { snapshotInterval } : {}),
  },
  init,
);
const server = new grpc.Server(mgr.raft.transport.serverOptions());
mgr.raft.transport.addTo(server);
addControlService(server, new ControlService({ store: mgr.store }), {
  isLeader: () => mgr.isLeader(),
  leaderAddr: () => mgr.raft.leader().addr,
  clientCredentials: creds,
});
await new Promise<void>((resolve, reject) =>
  server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
);
mgr.raft.on("fatal", (e: Error) => {
  send({ event: "fatal", error: e.message });
  process.exit(3);
});
mgr.start();
send({ event: "ready", raftId, addr });
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
const snapshotsAt: number[] = [];
mgr.raft.on("snapshot", (index: number) => snapshotsAt.push(index));
// With --trace-gc, marks go to the same output so GC lines can be placed in the bench's phases.
const tracing = process.execArgv.includes("--trace-gc");
const mark = (what: string): void => {
  if (tracing) process.stdout.write(`# ${Math.round(performance.now())} ms (wall ${Date.now()}): ${what}\n`);
};
mgr.raft.on("snapshot", (index: number) => mark(`snapshot ${index} recorded`));
if (tracing) {
  const encode = mgr.store.snapshotAsync.bind(mgr.store);
  mgr.store.snapshotAsync = async () => {
    mark(`snapshot at ${mgr.store.version} starts`);
    const bytes = await encode();
    mark(`snapshot encoded: ${bytes.length} bytes`);
    return bytes;
  };
}

/** Bulk state for benchmarks: services and their tasks written straight to the store, as orchestrators do. */
async function populate(services: number, tasksPerService: number): Promise<object> {
  const t0 = performance.now();
  const id = (p: string, n: number): string => p + n.toString(36).padStart(22, "0");
  const spec = (i: number) => ({
    annotations: { name: `bulk${i}`, labels: { app: `a${i % 10}` } },
    mode: { $case: "replicated" as const, replicated: { replicas: tasksPerService } },
    task: { runtime: { $case: "container" as const, container: { image: "busybox:latest", args: ["sh", "-c", "sleep 1000"], env: ["A=1"] } } },
  });
  const r = await mgr.store.batch((b) => {
    for (let i = 0; i < services; i++) {
      b.update((tx) => {
        const s = Service.fromPartial({ id: id("svc", i), spec: spec(i) });
        tx.create("service", s as unknown as StoreObject);
        for (let k = 1; k <= tasksPerService; k++) {
          const t = Task.fromPartial({ id: id("tsk", i * tasksPerService + k), serviceId: s.id, slot: k, nodeId: `node${k % 5}`, desiredState: 512, spec: s.spec?.task, status: { state: 512, message: "started" } });
          tx.create("task", t as unknown as StoreObject);
        }
      });
    }
  }, 64);
  return { committed: r.committed, failed: r.failed.length, ms: performance.now() - t0 };
}

/** Encodes the whole store as a snapshot and restores it into a fresh store. */
function snapshotRestore(): object {
  const t0 = performance.now();
  const data = mgr.store.snapshot();
  const t1 = performance.now();
  const copy = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta });
  copy.restore(data, mgr.store.version);
  const t2 = performance.now();
  return { bytes: data.length, encodeMs: t1 - t0, restoreMs: t2 - t1, tasks: copy.view((r) => r.count("task")) };
}

async function handle(req: ChannelRequest): Promise<object> {
  switch (req.op) {
    case "status": {
      const s = mgr.status();
      return { state: s.state, lead: s.lead, term: s.term, commit: s.commit, applied: s.applied, voters: s.confState.voters, storeVersion: s.storeVersion };
    }
    case "add":
      await mgr.raft.addMember(Number(req["id"]), String(req["addr"]));
      return { ok: true };
    case "count":
      return { services: mgr.store.view((r) => r.count("service")), tasks: mgr.store.view((r) => r.count("task")) };
    case "rss":
      globalThis.gc?.();
      await new Promise((r) => setTimeout(r, 1000));
      globalThis.gc?.();
      return { ...process.memoryUsage(), rssBytes: process.memoryUsage().rss, heapBytes: process.memoryUsage().heapUsed, raft: { snapshotIndex: mgr.raft.status().snapshotIndex, lastIndex: mgr.raft.status().lastIndex } };
    case "populate":
      return populate(Number(req["services"]), Number(req["tasksPerService"]));
    case "snapshot-restore":
      return snapshotRestore();
    case "loop-delay": {
      mark("loop-delay");
      // The worst event-loop stalls since the last call, and the snapshots taken meanwhile.
      const r = { maxMs: loopDelay.max / 1e6, p99Ms: loopDelay.percentile(99) / 1e6, snapshots: snapshotsAt.splice(0) };
      loopDelay.reset();
      return r;
    }
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

serveChannel(handle, async () => {
  await mgr.stop();
  server.forceShutdown();
});
