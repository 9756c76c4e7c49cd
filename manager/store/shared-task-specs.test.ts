// Tasks decoded from transactions and snapshots share one TaskSpec per distinct spec.
import { describe, expect, it } from "vitest";
import { Task } from "../../proto/gen/objects.js";
import { protoCodec } from "./proto-codec.js";
import type { StoreAction, StoreObject } from "./types.js";

const spec = (image: string, env: string[] = []) => ({ runtime: { $case: "container" as const, container: { image, env } } });
const task = (id: string, s: ReturnType<typeof spec>): StoreObject => Task.fromPartial({ id, serviceId: "svc", spec: s }) as unknown as StoreObject;
const create = (o: StoreObject): StoreAction => ({ op: "create", kind: "task", object: o });
const specOf = (a: StoreAction | StoreObject): unknown => ("object" in a ? (a.object as unknown as Task) : (a as unknown as Task)).spec;

describe("shared task specs", () => {
  it("gives tasks with equal specs one spec object, and keeps different specs apart", () => {
    const actions = [task("t1", spec("web:1", ["A=1"])), task("t2", spec("web:1", ["A=1"])), task("t3", spec("web:1", ["A=2"]))].map(create);
    const decoded = protoCodec.decodeTx(protoCodec.encodeTx({ actions })).actions;
    expect(specOf(decoded[0]!)).toBe(specOf(decoded[1]!));
    expect(specOf(decoded[2]!)).not.toBe(specOf(decoded[0]!));
    decoded.forEach((a, i) => expect(specOf(a)).toEqual(Task.fromPartial({ spec: (actions[i]!.object as unknown as Task).spec }).spec));
  });

  it("shares across transactions and snapshots", () => {
    const first = protoCodec.decodeTx(protoCodec.encodeTx({ actions: [create(task("t1", spec("api:2")))] })).actions[0]!;
    const snap = protoCodec.encodeSnapshot({ version: 7, tables: { task: [task("t2", spec("api:2")), task("t3", spec("db:5"))] } });
    const restored = protoCodec.decodeSnapshot(snap).tables.task!;
    expect(specOf(restored[0]!)).toBe(specOf(first));
    expect((specOf(restored[1]!) as Task["spec"])?.runtime).toMatchObject({ container: { image: "db:5" } });
    expect(restored.map((t) => t.id)).toEqual(["t2", "t3"]);
  });
});
