// The control plane under test: a store applied locally (no Raft), the Control API over it, the
// leader's components (allocator, orchestrators, scheduler) and the simulated agents. Time is
// vitest's fake clock (setTimeout, setImmediate, Date and performance are faked by the caller), so
// restart delays, the scheduler's debounce and the reaper's batches pass without sleeping, and every
// run of a seed interleaves the same way.
import { vi } from "vitest";
import { Allocator } from "../../manager/allocator/index.js";
import { ControlService } from "../../manager/controlapi/index.js";
import type { LeaderComponent } from "../../manager/leader-components.js";
import { createOrchestrators } from "../../manager/orchestrator/index.js";
import { SchedulerRunner } from "../../manager/scheduler/index.js";
import { LocalProposer, MemoryStore, SCHEMAS, protoCodec, stampMeta } from "../../manager/store/index.js";
import { SimAgents } from "./sim-agents.js";

/** How often the agents act while the cluster settles (as often as the dispatcher batches under load: every 100 ms). */
export const AGENT_PERIOD_MS = 100;
/** Settling gives up after this many agent periods or timer jumps: the components never went quiet. */
export const MAX_SETTLE_ROUNDS = 400;

/** Ids prefix001, prefix002… (sorted as created). */
function sequentialIds(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}${String(++n).padStart(4, "0")}`;
}

export class Harness {
  readonly store: MemoryStore;
  readonly control: ControlService;
  readonly agents: SimAgents;
  /** Errors the components reported (anything but a lost race): each one is a finding. */
  readonly errors: string[] = [];
  private readonly components: LeaderComponent[];
  private readonly abort = new AbortController();

  constructor() {
    const now = (): number => Date.now();
    this.store = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta, now });
    this.store.setProposer(new LocalProposer(this.store));
    this.control = new ControlService({ store: this.store, newId: sequentialIds("svc"), now });
    this.agents = new SimAgents(this.store);
    this.components = [
      new Allocator(this.store, { now, onError: (e) => this.errors.push(`allocator: ${e.message}`) }),
      ...createOrchestrators(this.store, {
        now,
        newId: sequentialIds("task"),
        setTimer: (fn, ms) => setTimeout(fn, ms),
        clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
        onError: (name, e) => this.errors.push(`${name}: ${e.message}`),
      }),
      new SchedulerRunner(this.store, { now, debounceMs: 50, maxDelayMs: 1_000, onError: (e) => this.errors.push(`scheduler: ${e.message}`) }),
    ];
  }

  async start(): Promise<void> {
    for (const c of this.components) await c.start(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const c of [...this.components].reverse()) await c.stop();
  }

  /**
   * Lets the agents act and the clock run until nothing is left to do: an agent period in which no
   * agent reported, nothing was written and no timer is waiting. With timers waiting (restart
   * delays, the reaper's batch), the clock jumps to the next one. Resolves with the fake time spent.
   */
  async settle(): Promise<number> {
    const started = Date.now();
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      const version = this.store.version;
      const reported = await this.agents.act();
      await vi.advanceTimersByTimeAsync(AGENT_PERIOD_MS);
      if (reported > 0 || this.store.version !== version) continue;
      if (vi.getTimerCount() === 0) return Date.now() - started;
      await vi.advanceTimersToNextTimerAsync();
    }
    throw new Error(`the control plane did not settle within ${MAX_SETTLE_ROUNDS} rounds (${vi.getTimerCount()} timers waiting)`);
  }
}
