// Batched node status writes over a real store with counted proposals.
import { describe, expect, it } from "vitest";
import { NodeDescription, NodeState } from "../../proto/gen/types.js";
import { StoreError, StoreErrorCode } from "../store/index.js";
import { NodeStatusWriter, applyStatus } from "./status-writer.js";
import { addNodes, changeNode, newStore, nodeOf } from "./test-support.js";

const READY = NodeState.NODE_STATE_READY;
const DOWN = NodeState.NODE_STATE_DOWN;

describe("NodeStatusWriter", () => {
  it("writes changes queued together in one transaction", async () => {
    const { store, proposals } = newStore();
    const ids = Array.from({ length: 50 }, (_, i) => `n${i}`);
    await addNodes(store, ids);
    const before = proposals.count;
    const w = new NodeStatusWriter({ store });
    await Promise.all(ids.map((id) => w.set(id, { state: READY, message: "", addr: "10.0.0.1" })));
    expect(proposals.count - before).toBe(1);
    for (const id of ids) expect(nodeOf(store, id)!.status).toEqual({ state: READY, message: "", addr: "10.0.0.1" });
  });

  it("writes nothing when the stored status already is the wanted one", async () => {
    const { store, proposals } = newStore();
    await addNodes(store, ["a"]);
    const w = new NodeStatusWriter({ store });
    await w.set("a", { state: READY, message: "", addr: "10.0.0.1", description: NodeDescription.fromPartial({ hostname: "h" }) });
    const before = proposals.count;
    await w.set("a", { state: READY, message: "", addr: "10.0.0.1", description: NodeDescription.fromPartial({ hostname: "h" }) });
    await w.set("a", { state: READY, message: "" });
    expect(proposals.count).toBe(before);
  });

  it("keeps the stored addr and description when a change leaves them out", async () => {
    const { store } = newStore();
    await addNodes(store, ["a"]);
    const w = new NodeStatusWriter({ store });
    await w.set("a", { state: READY, message: "", addr: "10.0.0.9", description: NodeDescription.fromPartial({ hostname: "h" }) });
    await w.set("a", { state: DOWN, message: "heartbeat failure" });
    const n = nodeOf(store, "a")!;
    expect(n.status).toEqual({ state: DOWN, message: "heartbeat failure", addr: "10.0.0.9" });
    expect(n.description?.hostname).toBe("h");
  });

  it("the latest queued change of a node wins, the earlier one's description is kept", async () => {
    const { store } = newStore();
    await addNodes(store, ["a"]);
    const w = new NodeStatusWriter({ store });
    const first = w.set("a", { state: READY, message: "", addr: "10.0.0.2", description: NodeDescription.fromPartial({ hostname: "h" }) });
    const second = w.set("a", { state: DOWN, message: "heartbeat failure" });
    await Promise.all([first, second]);
    const n = nodeOf(store, "a")!;
    expect(n.status?.state).toBe(DOWN);
    expect(n.status?.addr).toBe("10.0.0.2");
    expect(n.description?.hostname).toBe("h");
  });

  it("refuses a node the store does not have", async () => {
    const { store } = newStore();
    const w = new NodeStatusWriter({ store });
    await expect(w.set("ghost", { state: READY, message: "" })).rejects.toMatchObject({
      code: StoreErrorCode.NotFound,
      message: "node ghost is not a member of this cluster",
    });
  });

  it("rebuilds a transaction that lost a race with another writer of the node", async () => {
    const { store, proposals } = newStore();
    await addNodes(store, ["a"]);
    const before = proposals.count;
    const w = new NodeStatusWriter({ store });
    // Both transactions are built on the same version; the control-like one applies first.
    const other = changeNode(store, "a", (n) => (n.spec!.annotations = { name: "renamed", labels: {} }));
    const mine = w.set("a", { state: READY, message: "" });
    await Promise.all([other, mine]);
    expect(proposals.count - before).toBe(3); // theirs, mine refused, mine again
    const n = nodeOf(store, "a")!;
    expect(n.spec?.annotations?.name).toBe("renamed");
    expect(n.status?.state).toBe(READY);
  });

  it("splits changes that do not fit one transaction", async () => {
    const { store, proposals } = newStore();
    const ids = ["a", "b", "c", "d"];
    await addNodes(store, ids);
    const before = proposals.count;
    const w = new NodeStatusWriter({ store, maxTxBytes: 1 });
    await Promise.all(ids.map((id) => w.set(id, { state: READY, message: "" })));
    expect(proposals.count - before).toBe(4);
  });

  it("close() rejects what is queued and refuses later changes", async () => {
    const { store } = newStore();
    await addNodes(store, ["a"]);
    const w = new NodeStatusWriter({ store });
    const queued = w.set("a", { state: READY, message: "" });
    const err = new StoreError(StoreErrorCode.Unavailable, "dispatcher stopped: leadership moved");
    w.close(err);
    await expect(queued).rejects.toBe(err);
    await expect(w.set("a", { state: READY, message: "" })).rejects.toBe(err);
    expect(nodeOf(store, "a")!.status?.state).toBe(NodeState.NODE_STATE_UNKNOWN);
  });
});

describe("applyStatus", () => {
  it("returns null when nothing changes and a copy otherwise", async () => {
    const { store } = newStore();
    await addNodes(store, ["a"]);
    const cur = nodeOf(store, "a")!;
    expect(applyStatus(cur, { state: NodeState.NODE_STATE_UNKNOWN, message: "" })).toBeNull();
    const next = applyStatus(cur, { state: READY, message: "" })!;
    expect(next.status?.state).toBe(READY);
    expect(cur.status?.state).toBe(NodeState.NODE_STATE_UNKNOWN);
  });
});
