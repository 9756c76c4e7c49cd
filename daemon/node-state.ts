// What a host remembers about its place in the cluster (`node.json` in the data directory): its
// node id, cluster, role, addresses and the managers it last knew. Written atomically.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import path from "node:path";

export type RoleName = "manager" | "worker";

export interface NodeState {
  nodeId: string;
  clusterId: string;
  role: RoleName;
  /** host:port other nodes reach this node's cluster port at. */
  advertiseAddr: string;
  /** host:port the cluster port listens on. */
  listenAddr: string;
  /** Cluster addresses of the managers, as last heard. */
  managers: string[];
  /** This manager's Raft member id (managers only). */
  raftId?: number;
}

export class NodeStateFile {
  private readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, "node.json");
  }

  load(): NodeState | null {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
    try {
      return JSON.parse(text) as NodeState;
    } catch (e) {
      throw new Error(`cannot read ${this.file}: ${(e as Error).message}`, { cause: e });
    }
  }

  save(state: NodeState): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}
