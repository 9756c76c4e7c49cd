// The skeleton the orchestrators' runners share: a leader component that follows store events,
// collects what changed, and runs one pass at a time over it (at most one per turn of the event
// loop, however many commits came). A watch that fails (the watcher fell behind, or a snapshot
// replaced the store) starts over from a full read; a pass that fails for another reason than a
// lost race is reported and retried a second later.
import type { LeaderComponent } from "../leader-components.js";
import type { Kind, MemoryStore, StoreEvent, Watch } from "../store/index.js";
import { Alarm, type OrchestratorClock } from "./clock.js";

/** Wait before retrying work whose write failed for another reason than a lost race. */
export const RETRY_MS = 1_000;

export abstract class LeaderLoop implements LeaderComponent {
  abstract readonly name: string;
  private watch: Watch | null = null;
  private passQueued = false;
  private passAgain = false;
  private passRunning: Promise<void> | null = null;
  private readonly retryAlarm: Alarm;

  constructor(
    protected readonly store: MemoryStore,
    protected readonly clock: OrchestratorClock,
    private readonly kinds: Kind[],
    protected readonly onError: (e: Error) => void,
  ) {
    this.retryAlarm = new Alarm(clock, () => this.requestPass());
  }

  /** Everything is to be looked at again (start, or a watch that failed). */
  protected abstract resync(): void;
  /** One change of the followed kinds. */
  protected abstract collect(e: StoreEvent): void;
  /** Whether changes are waiting for a pass. */
  protected abstract hasWork(): boolean;
  /** Looks at what was collected and commits what it decides. */
  protected abstract pass(): Promise<void>;
  /** Stops the runner's own timers and forgets what it collected. */
  protected abstract reset(): void;

  /** After a transaction's changes were collected; default: a pass as soon as possible. */
  protected afterCommit(): void {
    if (this.hasWork()) this.requestPass();
  }

  get running(): boolean {
    return this.watch !== null;
  }

  start(): void {
    if (this.watch) return;
    const watch = this.store.watch({ kinds: this.kinds });
    this.watch = watch;
    this.resync();
    this.requestPass();
    void this.follow(watch);
  }

  async stop(): Promise<void> {
    this.watch?.close();
    this.watch = null;
    this.retryAlarm.cancel();
    this.reset();
    await this.passRunning;
  }

  /** Resolves once no pass runs or is waiting to run (tests wait for quiet with it). */
  async settled(): Promise<void> {
    while (this.passRunning || this.passQueued) {
      await (this.passRunning ?? new Promise((r) => setImmediate(r)));
    }
  }

  private async follow(watch: Watch): Promise<void> {
    try {
      for await (const e of watch) {
        if (e.type === "commit") this.afterCommit();
        else this.collect(e);
      }
    } catch (e) {
      if (this.watch !== watch) return;
      this.onError(e as Error);
      this.watch = null;
      this.start();
    }
  }

  protected requestPass(): void {
    if (!this.watch) return;
    if (this.passRunning) {
      this.passAgain = true;
      return;
    }
    if (this.passQueued) return;
    this.passQueued = true;
    setImmediate(() => {
      this.passQueued = false;
      if (!this.watch || this.passRunning) return;
      this.passRunning = this.pass()
        .catch((e: Error) => this.retryLater(e))
        .finally(() => {
          this.passRunning = null;
          if (this.passAgain) {
            this.passAgain = false;
            this.requestPass();
          }
        });
    });
  }

  /** Reports `e` and runs a pass again in RETRY_MS (the caller has re-collected the work). */
  protected retryLater(e: Error): void {
    if (!this.watch) return;
    this.onError(e);
    this.retryAlarm.setNoLaterThan(this.clock.now() + RETRY_MS);
  }
}
