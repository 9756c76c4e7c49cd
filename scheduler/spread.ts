// Spread preferences as a decision tree (SwarmKit's nodeset/decision tree): one level per spread
// descriptor, one branch per value (nodes without the label share the "" branch). Each branch counts
// the service's tasks under it; a task goes down the branch with the fewest (ties by value), so tasks
// split evenly across branches, and at the leaf to the best-ranked node with room. Without spread
// descriptors the tree is a single leaf. A branch whose nodes have no room left is closed.
import { nodeValue } from "./constraint.js";
import { Heap } from "./heap.js";
import type { NodeState } from "./node-state.js";

/** A node that passed the task group's static filters, with what ranks it. */
export interface Candidate {
  state: NodeState;
  /** 0, or the node's recent failures of this service version when they reach the threshold. */
  penalty: number;
  /** Tasks of the group's service on the node, kept up to date as tasks are placed. */
  serviceCount: number;
}

/** Ranking: recent failures last, then fewer tasks of the service, fewer tasks overall, node id. */
export function candidateLess(a: Candidate, b: Candidate): boolean {
  if (a.penalty !== b.penalty) return a.penalty < b.penalty;
  if (a.serviceCount !== b.serviceCount) return a.serviceCount < b.serviceCount;
  if (a.state.total !== b.state.total) return a.state.total < b.state.total;
  return a.state.id < b.state.id;
}

class Branch {
  tasks = 0;
  children: Map<string, Branch> | null = null;
  /** Internal branch: the children that still have room, fewest tasks first. */
  open: Heap<Branch> | null = null;
  /** Leaf: its candidates, best first. */
  nodes: Heap<Candidate> | null = null;
  readonly gathered: Candidate[] = [];
  constructor(readonly value: string) {}
}

const branchLess = (a: Branch, b: Branch): boolean => a.tasks < b.tasks || (a.tasks === b.tasks && a.value < b.value);

export class SpreadTree {
  private readonly root = new Branch("");
  private hasRoom: boolean;
  private readonly path: Branch[] = [];

  /**
   * `states` are every node (their tasks count in their branch); `candidates[i]` is states[i]'s
   * candidate, or null when the node failed a static filter.
   */
  constructor(spreadKeys: readonly string[], serviceId: string, states: readonly NodeState[], candidates: readonly (Candidate | null)[]) {
    states.forEach((state, i) => {
      let b = this.root;
      for (const key of spreadKeys) {
        b.children ??= new Map();
        const value = nodeValue(state.node, key);
        let child = b.children.get(value);
        if (!child) b.children.set(value, (child = new Branch(value)));
        child.tasks += state.tasksOf(serviceId);
        b = child;
      }
      const c = candidates[i];
      if (c) b.gathered.push(c);
    });
    this.hasRoom = SpreadTree.seal(this.root);
  }

  /** Builds the heaps below `b`; whether any candidate is under it. */
  private static seal(b: Branch): boolean {
    if (b.children === null) {
      b.nodes = new Heap(candidateLess, b.gathered.slice());
      return b.nodes.size > 0;
    }
    const open: Branch[] = [];
    for (const child of b.children.values()) if (SpreadTree.seal(child)) open.push(child);
    b.open = new Heap(branchLess, open);
    return open.length > 0;
  }

  /**
   * Places one task: the best candidate that `fits` along the emptiest branches, which `hold` then
   * charges with the task. A candidate that does not fit is dropped (within a group, room only shrinks).
   * Null when no candidate fits.
   */
  place(fits: (c: Candidate) => boolean, hold: (c: Candidate) => void): Candidate | null {
    const path = this.path;
    while (this.hasRoom) {
      path.length = 0;
      let b = this.root;
      while (b.open) {
        path.push(b);
        b = b.open.peek()!;
      }
      const leaf = b.nodes!;
      let c = leaf.peek();
      while (c && !fits(c)) {
        leaf.pop();
        c = leaf.peek();
      }
      if (c) {
        hold(c);
        c.serviceCount++;
        leaf.topIncreased();
        for (const p of path) {
          p.open!.peek()!.tasks++;
          p.open!.topIncreased();
        }
        return c;
      }
      let i = path.length - 1;
      while (i >= 0) {
        const open = path[i]!.open!;
        open.pop();
        if (open.size > 0) break;
        i--;
      }
      if (i < 0) this.hasRoom = false;
    }
    return null;
  }
}
