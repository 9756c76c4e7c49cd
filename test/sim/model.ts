// What the simulation asked of the cluster, kept by the test apart from the store: the nodes (state,
// availability, labels, capacity) and the services (mode, replicas, placement, reservations). The
// invariants compare the store with this, so the expectations never come from the code under test.

export type Availability = "active" | "pause" | "drain";

export interface SimNode {
  id: string;
  labels: Record<string, string>;
  /** READY (its agent reports) or DOWN (heartbeats lost). */
  ready: boolean;
  availability: Availability;
  nanoCpus: number;
  memoryBytes: number;
  /** While paused: the tasks wanted on it when it was paused, the only ones it may run. */
  keptOnPause: Set<string> | null;
}

export interface SimService {
  id: string;
  name: string;
  mode: "replicated" | "global";
  /** Replicated only. */
  replicas: number;
  /** node.labels.KEY==VALUE or node.labels.KEY!=VALUE. */
  constraints: string[];
  nanoCpus: number;
  memoryBytes: number;
  /** 0 = no limit (replicated only). */
  maxReplicas: number;
}

export class ClusterModel {
  readonly nodes = new Map<string, SimNode>();
  readonly services = new Map<string, SimService>();
  /** Ids of the services removed so far. */
  readonly removedServices = new Set<string>();

  /** READY and ACTIVE: the nodes that take new tasks. */
  available(n: SimNode): boolean {
    return n.ready && n.availability === "active";
  }
}

const CONSTRAINT = /^node\.labels\.([A-Za-z0-9_.-]+)\s*(==|!=)\s*(.*)$/;

/**
 * Whether the node's labels satisfy every constraint (Docker's rules: values compare
 * case-insensitively, a missing label is "", so `!=` holds on it and `==` does not).
 */
export function satisfies(labels: Record<string, string>, constraints: readonly string[]): boolean {
  return constraints.every((c) => {
    const m = CONSTRAINT.exec(c);
    if (!m) throw new Error(`constraint ${JSON.stringify(c)}: the simulation only evaluates node.labels.KEY==VALUE and !=`);
    const value = (labels[m[1]!] ?? "").toLowerCase();
    const wanted = m[3]!.trim().toLowerCase();
    return m[2] === "==" ? value === wanted : value !== wanted;
  });
}

/** A seeded source of choices. */
export class Dice {
  constructor(private readonly rand: () => number) {}

  chance(p: number): boolean {
    return this.rand() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("pick from an empty list");
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  /** One of the weighted entries (weights > 0). */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let x = this.rand() * total;
    for (const [v, w] of entries) {
      x -= w;
      if (x < 0) return v;
    }
    return entries[entries.length - 1]![0];
  }
}
