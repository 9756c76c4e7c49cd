// Runs the leader-only components (allocator, orchestrators, scheduler, dispatcher…) exactly while
// this manager leads, and never on two managers at once: a new leader waits out the window in which
// a deposed leader may not yet know it lost (check-quorum steps it down within two election
// timeouts), then confirms with a read barrier that its store holds everything committed before.

/** A control loop that runs only on the leader. start() returns once it runs; stop() once it stopped. */
export interface LeaderComponent {
  readonly name: string;
  start(signal: AbortSignal): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface LeadershipSource {
  isLeader(): boolean;
  on(event: "role", listener: (role: string) => void): unknown;
  off(event: "role", listener: (role: string) => void): unknown;
  /** Resolves once this manager has applied everything committed before the call. */
  read(): Promise<void>;
}

export interface ComponentEvents {
  onStarted?(name: string): void;
  onStopped?(name: string): void;
  onError?(name: string, err: Error): void;
}

export class LeaderComponents {
  private running: LeaderComponent[] = [];
  private abort: AbortController | null = null;
  private transition: Promise<void> = Promise.resolve();
  private term = 0;
  private closed = false;
  private readonly onRole = (): void => this.reconcile();

  constructor(
    private readonly source: LeadershipSource,
    private readonly components: LeaderComponent[],
    /** How long a new leader waits before starting components (default: two election timeouts). */
    private readonly startDelayMs: number,
    private readonly events: ComponentEvents = {},
  ) {
    source.on("role", this.onRole);
    this.reconcile();
  }

  /** Names of the components running now. */
  runningNames(): string[] {
    return this.running.map((c) => c.name);
  }

  private reconcile(): void {
    const leading = this.source.isLeader() && !this.closed;
    const term = ++this.term;
    if (!leading) {
      // Stop at once, without waiting for anything: another manager may be about to lead.
      this.abort?.abort();
      this.transition = this.transition.then(() => this.stopAll());
      return;
    }
    this.transition = this.transition.then(async () => {
      await this.stopAll();
      await new Promise((r) => setTimeout(r, this.startDelayMs));
      if (term !== this.term || !this.source.isLeader()) return;
      try {
        await this.source.read();
      } catch {
        return; // lost leadership meanwhile: the role event reconciles again
      }
      if (term !== this.term || !this.source.isLeader()) return;
      this.abort = new AbortController();
      for (const c of this.components) {
        if (term !== this.term) break;
        try {
          await c.start(this.abort.signal);
          this.running.push(c);
          this.events.onStarted?.(c.name);
        } catch (e) {
          this.events.onError?.(c.name, e as Error);
        }
      }
    });
  }

  private async stopAll(): Promise<void> {
    const stopping = this.running.reverse();
    this.running = [];
    for (const c of stopping) {
      try {
        await c.stop();
        this.events.onStopped?.(c.name);
      } catch (e) {
        this.events.onError?.(c.name, e as Error);
      }
    }
  }

  /** Stops every component and stops following leadership. */
  async close(): Promise<void> {
    this.closed = true;
    this.source.off("role", this.onRole);
    this.reconcile();
    await this.transition;
  }
}
