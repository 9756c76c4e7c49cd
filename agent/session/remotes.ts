// Which manager an agent dials next, and how long it waits first. Pure (a seeded random source
// comes in), so the choices are tested without sockets.
import type { ManagerPeer } from "../../proto/gen/dispatcher.js";

/** Exponential backoff between connection attempts (SwarmKit: 100 ms doubling to 8 s). */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 8_000 };

/**
 * The wait before attempt number `failures + 1` (`failures` ≥ 1 in a row): initialMs doubled per
 * failure, capped at maxMs, then jittered into [half, whole] so agents that lost the same manager
 * do not come back in step.
 */
export function backoffDelay(failures: number, backoff: Backoff, random: () => number): number {
  const exp = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(exp / 2 + (exp / 2) * random());
}

/**
 * The managers an agent knows (those it started with and those session messages named) and how
 * each fared. Next choice: a redirect target if one was just given; else the leader of the last
 * session message unless it failed since; else, avoiding the manager that failed last, one of those
 * with the fewest failures in a row, at random.
 */
export class ManagerPicker {
  private readonly known: string[] = [];
  private readonly failures = new Map<string, number>();
  private leader: string | null = null;
  private redirect: string | null = null;
  private lastFailed: string | null = null;

  constructor(
    initial: string[],
    private readonly random: () => number,
  ) {
    for (const a of initial) this.add(a);
  }

  /** Every manager address known, in the order first learnt. */
  addresses(): string[] {
    return [...this.known];
  }

  /** The leader named by the last session message, if any. */
  get leaderAddr(): string | null {
    return this.leader;
  }

  /** Learns the managers of a session message (they are added; none is forgotten). */
  observe(peers: ManagerPeer[]): void {
    for (const p of peers) if (p.addr) this.add(p.addr);
    this.leader = peers.find((p) => p.leader && p.addr)?.addr ?? null;
  }

  /** A manager answered that `leader` leads: dial it next. */
  redirectTo(leader: string): void {
    this.add(leader);
    this.redirect = leader;
  }

  /** A session with `addr` was established: its failures are forgotten. */
  succeeded(addr: string): void {
    this.failures.delete(addr);
    if (this.lastFailed === addr) this.lastFailed = null;
  }

  /** An attempt with `addr` failed, or its session ended. */
  failed(addr: string): void {
    this.failures.set(addr, (this.failures.get(addr) ?? 0) + 1);
    this.lastFailed = addr;
  }

  next(): string {
    if (this.redirect) {
      const r = this.redirect;
      this.redirect = null;
      return r;
    }
    if (this.known.length === 0) throw new Error("no manager address is known");
    const others = this.known.length > 1 ? this.known.filter((a) => a !== this.lastFailed) : this.known;
    if (this.leader && others.includes(this.leader) && !this.failures.get(this.leader)) return this.leader;
    const fewest = Math.min(...others.map((a) => this.failures.get(a) ?? 0));
    const best = others.filter((a) => (this.failures.get(a) ?? 0) === fewest);
    return best[Math.min(best.length - 1, Math.floor(this.random() * best.length))]!;
  }

  private add(addr: string): void {
    if (!this.known.includes(addr)) this.known.push(addr);
  }
}
