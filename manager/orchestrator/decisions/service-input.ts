// What an orchestrator's decision about one service reads: the service, its tasks, the nodes, the
// cluster, the time and an id source. The runner fills it from one store snapshot.
import type { Cluster, Node, Service, Task } from "../../../proto/gen/objects.js";

export interface ServiceInput {
  service: Service;
  /** All of the service's tasks. */
  tasks: readonly Task[];
  /** A node by id (undefined: removed). */
  node(id: string): Node | undefined;
  /** Every node (filled for the global modes only). */
  nodes: readonly Node[];
  cluster?: Cluster | undefined;
  nowMs: number;
  newId(): string;
}
