// Three managers as separate processes (Raft + store + Control API on loopback gRPC, insecure
// credentials until the security issue): writes through any manager, SIGKILL of the leader under
// load, a full restart, and a follower without quorum answering UNAVAILABLE instead of hanging.
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ControlClient } from "../../proto/gen/control.js";
import { ServiceSpec } from "../../proto/gen/specs.js";
import { MANAGER, MemberCluster, type MemberProcess } from "../cluster/process-cluster.js";

let cluster: MemberCluster | null = null;
const clients: ControlClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await cluster?.close();
  cluster = null;
});

function client(m: MemberProcess): ControlClient {
  const c = new ControlClient(m.addr, grpc.credentials.createInsecure());
  clients.push(c);
  return c;
}

/** Calls a unary Control method with a deadline; resolves with the answer or the gRPC error. */
function call<Res>(c: ControlClient, method: string, req: object, timeoutMs = 10_000): Promise<{ res?: Res; err?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const fn = (c as unknown as Record<string, (...a: unknown[]) => void>)[method]!.bind(c);
    fn(req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Res) =>
      resolve(err ? { err } : { res }),
    );
  });
}

function spec(name: string, image = "busybox"): ServiceSpec {
  return ServiceSpec.fromPartial({
    annotations: { name },
    mode: { $case: "replicated", replicated: { replicas: 1 } },
    task: { runtime: { $case: "container", container: { image } } },
  });
}

interface ServiceMsg {
  id: string;
  meta?: { version?: { index: number } };
  spec?: { annotations?: { name: string }; task?: { runtime?: { container?: { image: string } } } };
}

async function startManagers(): Promise<MemberProcess[]> {
  cluster = await MemberCluster.start({ size: 3, program: MANAGER });
  return cluster.members;
}

async function serviceNames(c: ControlClient): Promise<Set<string> | null> {
  const { res } = await call<{ services: ServiceMsg[] }>(c, "listServices", {});
  return res ? new Set(res.services.map((s) => s.spec!.annotations!.name)) : null;
}

describe("control plane across manager processes", () => {
  it("creates, updates and removes services through any manager", async () => {
    const [m1, m2, m3] = await startManagers();
    const [c1, c2, c3] = [client(m1!), client(m2!), client(m3!)];
    const created = await call<{ service: ServiceMsg }>(c2, "createService", { spec: spec("web") });
    expect(created.err).toBeUndefined();
    const id = created.res!.service.id;
    const got = await call<{ service: ServiceMsg }>(c3, "getService", { serviceId: "web" });
    expect(got.res!.service.id).toBe(id);
    const version = got.res!.service.meta!.version;
    const updated = await call<{ service: ServiceMsg }>(c3, "updateService", { serviceId: id.slice(0, 6), serviceVersion: version, spec: spec("web", "busybox:2") });
    expect(updated.err).toBeUndefined();
    expect(updated.res!.service.spec!.task!.runtime!.container!.image).toBe("busybox:2");
    const stale = await call(c1, "updateService", { serviceId: id, serviceVersion: version, spec: spec("web", "busybox:3") });
    expect(stale.err?.code).toBe(grpc.status.FAILED_PRECONDITION);
    const dup = await call(c1, "createService", { spec: spec("web") });
    expect(dup.err?.code).toBe(grpc.status.ALREADY_EXISTS);
    const removed = await call(c2, "removeService", { serviceId: "web" });
    expect(removed.err).toBeUndefined();
    const gone = await call(c1, "getService", { serviceId: id });
    expect(gone.err?.code).toBe(grpc.status.NOT_FOUND);
  });

  it("keeps every acknowledged write through a leader SIGKILL and a restart of all three", async () => {
    const ms = await startManagers();
    const cs = ms.map(client);
    const acked: string[] = [];
    let stop = false;
    let seq = 0;
    const writer = async (w: number): Promise<void> => {
      let target = w % 3;
      while (!stop) {
        const name = `svc-${w}-${++seq}`;
        const r = await call(cs[target]!, "createService", { spec: spec(name) }, 5_000);
        if (r.err) {
          target = (target + 1) % 3;
          await new Promise((res) => setTimeout(res, 20)); // back off while there is no leader
        } else acked.push(name);
      }
    };
    const writers = Promise.all([0, 1, 2, 3].map(writer));
    const waitAcked = (n: number): Promise<void> => cluster!.waitFor(async () => acked.length >= n, `${n} acknowledged creates`, 60_000);
    await waitAcked(100);
    const leader = (await cluster!.leader())!;
    await leader.kill9();
    await waitAcked(acked.length + 100);
    stop = true;
    await writers;

    const survivor = cs[ms.findIndex((m) => m !== leader)]!;
    const names = await serviceNames(survivor);
    expect(acked.filter((n) => !names!.has(n))).toEqual([]);

    await leader.start();
    for (const m of ms) await m.stop();
    for (const m of ms) await m.start();
    await cluster!.waitFor(async () => (await cluster!.leader()) !== null, "a leader after the full restart");
    for (const c of cs) c.close();
    const fresh = ms.map(client);
    await cluster!.waitFor(async () => {
      const all = await Promise.all(fresh.map(serviceNames));
      return all.every((s) => s !== null && acked.every((n) => s.has(n)) && s.size === all[0]!.size);
    }, "every manager to list every acknowledged service after the restart");
  });

  it("answers UNAVAILABLE within its timeout when a follower has no quorum", async () => {
    const ms = await startManagers();
    const leader = (await cluster!.leader())!;
    const [other, lonely] = ms.filter((m) => m !== leader) as [MemberProcess, MemberProcess];
    await leader.kill9();
    await other.kill9();
    // A hang would end in the client's own DEADLINE_EXCEEDED; the manager must answer UNAVAILABLE first.
    const r = await call(client(lonely), "createService", { spec: spec("orphan") }, 30_000);
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.err?.details).toMatch(/leader|quorum/);
  });
});
