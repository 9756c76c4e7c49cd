// `npm run bench:scheduler`: the pure scheduler placing 10,000 pending tasks of one service (a
// constraint most nodes match, a spread over 3 zones, reservations) on 1,000 nodes, with and without
// 10,000 tasks of other services already running; then the runner doing the same through a local
// store (no Raft), from start to the last task ASSIGNED. Prints one JSON object per figure.
import { Node, Task } from "../../proto/gen/objects.js";
import { NodeAvailability, NodeRole, NodeState, TaskState } from "../../proto/gen/types.js";
import { SchedulerRunner } from "../../manager/scheduler/index.js";
import { LocalProposer, MemoryStore, SCHEMAS, protoCodec, stampMeta, type StoreObject } from "../../manager/store/index.js";
import { schedule, type ScheduleInput } from "../../scheduler/index.js";

const NODES = 1_000;
const TASKS = 10_000;
const RUNS = Number(process.env["BENCH_RUNS"] ?? 7);
const ZONES = ["east", "west", "north"];
const common = { bench: "scheduler", nodes: NODES, tasks: TASKS, constraint: "node.labels.tier==prod", spread: "node.labels.zone", zones: ZONES.length };

function print(metric: string, value: number, unit: string, conditions: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...common, metric, value: Math.round(value * 100) / 100, unit, ...conditions }));
}

function makeNodes(): Node[] {
  return Array.from({ length: NODES }, (_, i) =>
    Node.fromPartial({
      id: `node-${String(i).padStart(4, "0")}`,
      role: NodeRole.NODE_ROLE_WORKER,
      spec: { availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE, annotations: { labels: { zone: ZONES[i % ZONES.length]!, tier: i % 10 === 9 ? "dev" : "prod" } } },
      description: {
        hostname: `host-${i}`,
        platform: { os: "linux", architecture: "x86_64" },
        resources: { nanoCpus: 16e9, memoryBytes: 64 * 2 ** 30 },
      },
      status: { state: NodeState.NODE_STATE_READY, addr: `10.0.${i >> 8}.${i & 255}` },
    }),
  );
}

function makeTasks(serviceId: string, count: number, nodeIds: string[] | null): Task[] {
  return Array.from({ length: count }, (_, i) =>
    Task.fromPartial({
      id: `${serviceId}-task-${i}`,
      serviceId,
      specVersion: { index: 1 },
      slot: i + 1,
      nodeId: nodeIds ? nodeIds[i % nodeIds.length]! : "",
      desiredState: TaskState.TASK_STATE_RUNNING,
      status: { state: nodeIds ? TaskState.TASK_STATE_RUNNING : TaskState.TASK_STATE_PENDING },
      spec: {
        runtime: { $case: "container", container: { image: "nginx" } },
        resources: { reservations: { nanoCpus: 1e8, memoryBytes: 64 * 2 ** 20 } },
        placement: { constraints: ["node.labels.tier==prod"], preferences: [{ spread: { spreadDescriptor: "node.labels.zone" } }] },
      },
    }),
  );
}

function measure(label: string, input: ScheduleInput, conditions: Record<string, unknown>): void {
  const times: number[] = [];
  let assigned = 0;
  for (let run = 0; run < RUNS + 2; run++) {
    const t0 = process.hrtime.bigint();
    const result = schedule(input);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assigned = result.assigned.length;
    if (run >= 2) times.push(ms); // two warm-up runs
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  print(label, (TASKS / median) * 1000, "1/s", { ...conditions, statistic: "median", runs: RUNS, schedule_ms: Math.round(median * 10) / 10, assigned });
}

/** The runner over a local store: start to every task ASSIGNED. */
async function measureRunner(nodes: Node[], pending: Task[]): Promise<void> {
  const store = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta });
  store.setProposer(new LocalProposer(store));
  const obj = (o: object): StoreObject => o as unknown as StoreObject;
  await store.update((tx) => nodes.forEach((n) => tx.create("node", obj(n))));
  for (let i = 0; i < pending.length; i += 500) await store.update((tx) => pending.slice(i, i + 500).forEach((t) => tx.create("task", obj(t))));
  const runner = new SchedulerRunner(store, { debounceMs: 0 });
  const t0 = process.hrtime.bigint();
  const watch = store.watch({ kinds: ["task"] });
  let assigned = 0;
  runner.start();
  for await (const e of watch) {
    if (e.type === "update" && (e.object as unknown as Task).status?.state === TaskState.TASK_STATE_ASSIGNED) assigned++;
    if (assigned === pending.length) break;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  watch.close();
  await runner.stop();
  print("runner_tasks_per_s", (pending.length / ms) * 1000, "1/s", { store: "memory-local-proposer", debounce_ms: 0, elapsed_ms: Math.round(ms), assigned });
}

const nodes = makeNodes();
const pending = makeTasks("web", TASKS, null);
measure("tasks_per_s", { nodes, tasks: pending, pending, nowMs: 0 }, { running_tasks: 0 });
const running = makeTasks("other", TASKS, nodes.map((n) => n.id));
measure("tasks_per_s", { nodes, tasks: [...running, ...pending], pending, nowMs: 0 }, { running_tasks: running.length });
await measureRunner(nodes, pending);
