// The gRPC adapter over real gRPC on 127.0.0.1: a leader and a follower, each a ControlService on
// its own store; calls to the follower are forwarded to the leader.
import * as net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  ControlClient,
  WatchRequest,
  type CreateSecretResponse,
  type CreateServiceResponse,
  type GetServiceResponse,
  type UpdateServiceResponse,
  type WatchMessage,
} from "../../proto/gen/control.js";
import { ServiceSpec } from "../../proto/gen/specs.js";
import { StoreActionKind } from "../../proto/gen/store.js";
import { StoreError } from "../store/index.js";
import { ControlService } from "./control-service.js";
import { NO_LEADER, REDIRECT_METADATA, addControlService, toGrpcStatus, type ControlAdapterOptions } from "./grpc-adapter.js";
import { newStore } from "./test-support.js";

const insecure = grpc.credentials.createInsecure();
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

interface Manager {
  api: ControlService;
  store: ReturnType<typeof newStore>;
  addr: string;
}

async function startManager(opts: Omit<ControlAdapterOptions, "clientCredentials">, ids: string[] = []): Promise<Manager> {
  const store = newStore();
  let n = 0;
  const api = new ControlService({ store, newId: () => ids.shift() ?? `id${++n}` });
  const server = new grpc.Server();
  const clients = addControlService(server, api, { clientCredentials: insecure, ...opts });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanups.push(() => {
    clients.close();
    server.forceShutdown();
  });
  return { api, store, addr: `127.0.0.1:${port}` };
}

/** A leader and a follower that forwards to it. */
async function pair(followerOpts: Partial<ControlAdapterOptions> = {}) {
  const leader = await startManager({ isLeader: () => true, leaderAddr: () => null }, ["s1", "s2", "s3"]);
  const follower = await startManager({ isLeader: () => false, leaderAddr: () => leader.addr, ...followerOpts });
  return { leader, follower, client: clientOf(follower.addr) };
}

function clientOf(addr: string): ControlClient {
  const c = new ControlClient(addr, insecure);
  cleanups.push(() => c.close());
  return c;
}

type Callback<T> = (e: grpc.ServiceError | null, r: T) => void;

/** A unary call as a promise. */
function rpc<T>(start: (cb: Callback<T>) => unknown): Promise<T> {
  return new Promise((resolve, reject) => start((e, r) => (e ? reject(e) : resolve(r))));
}

/** A deadline for calls that must be answered by the server, not by the client giving up. */
const soon = (): Partial<grpc.CallOptions> => ({ deadline: Date.now() + 10_000 });

const spec = (name: string): ServiceSpec =>
  ServiceSpec.fromPartial({
    annotations: { name },
    mode: { $case: "replicated", replicated: { replicas: 1 } },
    task: { runtime: { $case: "container", container: { image: "nginx" } } },
  });

/** Messages of a server stream, read one at a time; each read fails after `ms` instead of hanging. */
class StreamReader {
  private readonly queue: WatchMessage[] = [];
  private readonly waiters: { resolve: (m: WatchMessage) => void; reject: (e: Error) => void }[] = [];
  private error: Error | null = null;

  constructor(readonly call: grpc.ClientReadableStream<WatchMessage>) {
    call.on("data", (m: WatchMessage) => {
      const w = this.waiters.shift();
      if (w) w.resolve(m);
      else this.queue.push(m);
    });
    call.on("error", (e: Error) => {
      this.error = e;
      for (const w of this.waiters.splice(0)) w.reject(e);
    });
  }

  next(ms = 10_000): Promise<WatchMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no watch message within ${ms} ms`)), ms);
      this.waiters.push({
        resolve: (x) => (clearTimeout(timer), resolve(x)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }
}

describe("grpc adapter", () => {
  it("forwards a follower's calls to the leader and returns the leader's answer", async () => {
    const { leader, follower, client } = await pair();
    const created = await rpc<CreateServiceResponse>((cb) => client.createService({ spec: spec("web") }, cb));
    expect(created.service).toMatchObject({ id: "s1", spec: { annotations: { name: "web" } }, meta: { version: { index: 1 } } });
    expect(leader.store.view((r) => r.get("service", "s1"))).toBeDefined();
    expect(follower.store.view((r) => r.count("service"))).toBe(0);
    const got = await rpc<GetServiceResponse>((cb) => client.getService({ serviceId: "web" }, cb));
    expect(got.service!.id).toBe("s1");
    const updated = await rpc<UpdateServiceResponse>((cb) =>
      client.updateService({ serviceId: "s1", serviceVersion: { index: 1 }, spec: spec("web"), rollback: false }, cb),
    );
    expect(updated.service!.previousSpec).toBeDefined();
  });

  it("keeps the leader's error codes and messages through the follower", async () => {
    const { client } = await pair();
    await rpc((cb) => client.createService({ spec: spec("web") }, cb));
    const cases: [() => Promise<unknown>, grpc.status, string][] = [
      [() => rpc((cb) => client.createService({ spec: spec("web") }, cb)), grpc.status.ALREADY_EXISTS, `service name "web" is already in use by service s1`],
      [() => rpc((cb) => client.getService({ serviceId: "nope" }, cb)), grpc.status.NOT_FOUND, "service nope not found"],
      [
        () => rpc((cb) => client.createService({ spec: spec("-bad") }, cb)),
        grpc.status.INVALID_ARGUMENT,
        `invalid name "-bad": names must start with a letter or digit and contain only letters, digits, "_", "." and "-"`,
      ],
      [
        () => rpc((cb) => client.updateService({ serviceId: "web", serviceVersion: { index: 7 }, spec: spec("web"), rollback: false }, cb)),
        grpc.status.FAILED_PRECONDITION,
        `update out of sequence: service "web" (s1) is at version 1, but the request was based on version 7; read it again and retry`,
      ],
    ];
    for (const [call, code, details] of cases) await expect(call()).rejects.toMatchObject({ code, details });
  });

  it("answers UNAVAILABLE at once when no leader is known", async () => {
    const follower = await startManager({ isLeader: () => false, leaderAddr: () => null });
    const client = clientOf(follower.addr);
    await expect(rpc((cb) => client.listServices({ filters: undefined }, new grpc.Metadata(), soon(), cb))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: NO_LEADER,
    });
    const watch = new StreamReader(client.watch(WatchRequest.fromPartial({}), soon()));
    await expect(watch.next()).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE, details: NO_LEADER });
  });

  it("refuses a forwarded call that reaches a manager that is not the leader, instead of bouncing it", async () => {
    const { follower } = await pair();
    const client = clientOf(follower.addr);
    const md = new grpc.Metadata();
    md.set(REDIRECT_METADATA, "127.0.0.1:1");
    await expect(rpc((cb) => client.listServices({ filters: undefined }, md, soon(), cb))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: "no leader: this manager was sent the call as the leader but is not the leader (leadership is moving); retry",
    });
  });

  it("answers UNAVAILABLE when the leader's address is a closed port", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const follower = await startManager({ isLeader: () => false, leaderAddr: () => `127.0.0.1:${port}`, requestTimeoutMs: 2_000 });
    const err = await rpc((cb) => clientOf(follower.addr).getCluster({ clusterId: "default" }, new grpc.Metadata(), soon(), cb)).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect((err as grpc.ServiceError).details).toMatch(new RegExp(`^(cannot reach|no answer from) the leader at 127\\.0\\.0\\.1:${port}`));
  });

  it("answers UNAVAILABLE when the leader accepts connections but never answers", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const addr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const follower = await startManager({ isLeader: () => false, leaderAddr: () => addr, requestTimeoutMs: 300 });
    const client = clientOf(follower.addr);
    await expect(rpc((cb) => client.removeService({ serviceId: "web" }, new grpc.Metadata(), soon(), cb))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: `no answer from the leader at ${addr} within 300 ms (is a quorum of managers reachable?); a change may still take effect`,
    });
    const watch = new StreamReader(client.watch(WatchRequest.fromPartial({}), soon()));
    await expect(watch.next()).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: `no answer from the leader at ${addr} within 300 ms (is a quorum of managers reachable?)`,
    });
  });

  it("streams watch events from the leader, directly and through the follower", async () => {
    const { leader, client } = await pair();
    const direct = new StreamReader(clientOf(leader.addr).watch(WatchRequest.fromPartial({ kinds: ["secret"] })));
    const relayed = new StreamReader(client.watch(WatchRequest.fromPartial({ kinds: ["secret"] })));
    cleanups.push(() => direct.call.cancel(), () => relayed.call.cancel());
    expect(await direct.next()).toEqual({ events: [], version: 0 });
    expect(await relayed.next()).toEqual({ events: [], version: 0 });
    await rpc((cb) => client.createService({ spec: spec("web") }, cb));
    const sec = await rpc<CreateSecretResponse>((cb) =>
      client.createSecret({ spec: { annotations: { name: "pw", labels: {} }, data: Buffer.from("hunter2"), templating: undefined, driver: undefined } }, cb),
    );
    expect(sec.secret!.spec!.data.length).toBe(0);
    for (const w of [direct, relayed]) {
      const m = await w.next();
      expect(m.version).toBe(2);
      expect(m.events).toHaveLength(1);
      expect(m.events[0]!.action).toBe(StoreActionKind.STORE_ACTION_KIND_CREATE);
      const o = m.events[0]!.object!.object!;
      expect(o.$case).toBe("secret");
      if (o.$case === "secret") expect(o.secret.spec!.data.length).toBe(0);
    }
  });

  it("maps store errors one to one, Raft failures to UNAVAILABLE, anything else to INTERNAL", () => {
    const codes = ["NOT_FOUND", "ALREADY_EXISTS", "FAILED_PRECONDITION", "INVALID_ARGUMENT", "UNAVAILABLE"] as const;
    expect(codes.map((c) => toGrpcStatus(new StoreError(c, "x")).code)).toEqual([5, 6, 9, 3, 14]);
    const raft = Object.assign(new Error("no quorum"), { code: "RAFT_TIMEOUT" });
    expect(toGrpcStatus(raft)).toMatchObject({ code: grpc.status.UNAVAILABLE, details: "no quorum" });
    expect(toGrpcStatus(new TypeError("boom"))).toMatchObject({ code: grpc.status.INTERNAL, details: "internal error: boom" });
  });
});
