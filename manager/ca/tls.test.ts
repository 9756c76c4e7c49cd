import * as grpc from "@grpc/grpc-js";
import { TLSSocket } from "node:tls";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createAuthorizationInterceptor } from "./authorization.js";
import type { MethodPolicy } from "./authorization.js";
import { createKeyAndCsr, createRootCA, parseNodeCertificate, signNodeCertificate } from "./certificates.js";
import type { CertificateAndKey, NodeRoleName } from "./certificates.js";
import { peerIdentity } from "./peer-identity.js";
import { NodeTls, bootstrapClientCredentials, managerChannelOptions } from "./tls.js";
import type { NodeTlsMaterial } from "./tls.js";

const DAY = 24 * 3600 * 1000;
const SERVICE = "/swarm.test.Probe";
const POLICY: Record<string, MethodPolicy> = {
  [`${SERVICE}/Public`]: "public",
  [`${SERVICE}/AnyNode`]: ["swarm-manager", "swarm-worker"],
  [`${SERVICE}/ManagerOnly`]: ["swarm-manager"],
};
type Method = "Public" | "AnyNode" | "ManagerOnly";

const bytes = {
  serialize: (b: Buffer) => b,
  deserialize: (b: Buffer) => b,
};
const definition: grpc.ServiceDefinition = Object.fromEntries(
  (["Public", "AnyNode", "ManagerOnly"] as const).map((name) => [
    name,
    {
      path: `${SERVICE}/${name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: bytes.serialize,
      requestDeserialize: bytes.deserialize,
      responseSerialize: bytes.serialize,
      responseDeserialize: bytes.deserialize,
    },
  ]),
);
const ProbeClient = grpc.makeGenericClientConstructor(definition, "Probe");

/** Every handler answers with what the server knows of the caller: identity and certificate serial. */
const whoami: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
  const serial = call.getAuthContext().sslPeerCertificate?.serialNumber?.toLowerCase() ?? null;
  callback(null, Buffer.from(JSON.stringify({ identity: peerIdentity(call), serial })));
};

interface Answer {
  identity: { nodeId: string; role: NodeRoleName; clusterId: string } | null;
  serial: string | null;
}

class Cluster {
  constructor(
    readonly id: string,
    readonly root: CertificateAndKey,
  ) {}

  static async create(id: string): Promise<Cluster> {
    return new Cluster(id, await createRootCA());
  }

  /** A node's material; `clusterId` lets a test issue certificates naming another cluster. */
  async node(nodeId: string, role: NodeRoleName, opts: { now?: Date; validityMs?: number; clusterId?: string } = {}): Promise<NodeTlsMaterial> {
    const { keyPem, csrPem } = await createKeyAndCsr();
    const certPem = await signNodeCertificate({
      rootCertPem: this.root.certPem,
      rootKeyPem: this.root.keyPem,
      csrPem,
      nodeId,
      role,
      clusterId: opts.clusterId ?? this.id,
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.validityMs ? { validityMs: opts.validityMs } : {}),
    });
    return { rootCertPem: this.root.certPem, certPem, keyPem };
  }
}

describe("NodeTls and the authorization interceptor over real gRPC", () => {
  let a: Cluster;
  let b: Cluster;
  let managerA: NodeTlsMaterial;
  let workerA: NodeTlsMaterial;
  const servers: grpc.Server[] = [];
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([Cluster.create("cluster-a"), Cluster.create("cluster-b")]);
    [managerA, workerA] = await Promise.all([a.node("m1", "swarm-manager"), a.node("w1", "swarm-worker")]);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) s.forceShutdown();
  });

  async function serve(credentials: grpc.ServerCredentials, removed: string[] = []): Promise<number> {
    const server = new grpc.Server({
      interceptors: [
        createAuthorizationInterceptor({
          policy: (path) => POLICY[path],
          clusterId: () => "cluster-a",
          isRemoved: (id) => removed.includes(id),
        }),
      ],
    });
    server.addService(definition, { Public: whoami, AnyNode: whoami, ManagerOnly: whoami });
    servers.push(server);
    return new Promise((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  /** Calls `method` on a new channel (own subchannel pool: no connection is shared between tests). */
  function call(port: number, credentials: grpc.ChannelCredentials, method: Method): Promise<Answer> {
    const client = new ProbeClient(`127.0.0.1:${port}`, credentials, {
      ...managerChannelOptions(),
      "grpc.use_local_subchannel_pool": 1,
    });
    clients.push(client);
    const fn = client[method] as (req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => void;
    return new Promise((resolve, reject) =>
      fn.call(client, Buffer.alloc(0), (err, res) => (err ? reject(err) : resolve(JSON.parse(res!.toString()) as Answer))),
    );
  }

  function refused(code: keyof typeof grpc.status, details: string | RegExp) {
    return expect.objectContaining({ code: grpc.status[code], details: typeof details === "string" ? details : expect.stringMatching(details) });
  }

  // The server sends its chain up to its own root (OpenSSL completes it from the trusted store).
  const UNTRUSTED = /Last error: Error: self-signed certificate in certificate chain/;
  const NEED_CERT = "a client certificate issued by this cluster's CA is required (missing, expired or from another CA)";

  it("lets a node of the cluster through, with its identity and serial visible to the handler", async () => {
    const port = await serve(new NodeTls(managerA).serverCredentials());
    const worker = new NodeTls(workerA);
    expect(await call(port, worker.clientCredentials(), "AnyNode")).toEqual({
      identity: { nodeId: "w1", role: "swarm-worker", clusterId: "cluster-a" },
      serial: worker.certificate.serial,
    });
    const manager = await call(port, new NodeTls(managerA).clientCredentials(), "ManagerOnly");
    expect(manager.identity).toEqual({ nodeId: "m1", role: "swarm-manager", clusterId: "cluster-a" });
  });

  it("reads a connection's peer certificate once, however many calls it carries", async () => {
    const port = await serve(new NodeTls(managerA).serverCredentials());
    const reads = vi.spyOn(TLSSocket.prototype, "getPeerCertificate");
    const serverReads = () => reads.mock.contexts.filter((socket) => (socket as TLSSocket).localPort === port).length;
    try {
      const worker = new NodeTls(workerA);
      const client = new ProbeClient(`127.0.0.1:${port}`, worker.clientCredentials(), { ...managerChannelOptions(), "grpc.use_local_subchannel_pool": 1 });
      clients.push(client);
      const anyNode = (): Promise<Answer> =>
        new Promise((resolve, reject) =>
          (client["AnyNode"] as (req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => void).call(client, Buffer.alloc(0), (err, res) =>
            err ? reject(err) : resolve(JSON.parse(res!.toString()) as Answer),
          ),
        );
      const answers = [await anyNode(), await anyNode(), await anyNode()];
      expect(answers.map((x) => x.identity?.nodeId)).toEqual(["w1", "w1", "w1"]);
      expect(answers.every((x) => x.serial === worker.certificate.serial)).toBe(true);
      expect(serverReads()).toBe(1);

      // Another connection, another certificate: read again, not confused with the first.
      expect((await call(port, new NodeTls(managerA).clientCredentials(), "ManagerOnly")).identity?.nodeId).toBe("m1");
      expect(serverReads()).toBe(2);
    } finally {
      reads.mockRestore();
    }
  });

  it("refuses a worker calling a manager-only method, and removed nodes", async () => {
    const port = await serve(new NodeTls(managerA).serverCredentials(), ["gone"]);
    const creds = new NodeTls(workerA).clientCredentials();
    await expect(call(port, creds, "ManagerOnly")).rejects.toEqual(
      refused("PERMISSION_DENIED", `role swarm-worker may not call ${SERVICE}/ManagerOnly`),
    );
    const gone = new NodeTls(await a.node("gone", "swarm-worker"));
    await expect(call(port, gone.clientCredentials(), "AnyNode")).rejects.toEqual(
      refused("PERMISSION_DENIED", "node gone was removed from the cluster"),
    );
  });

  it("refuses a client certificate of another CA as unauthenticated, even one naming this cluster", async () => {
    const port = await serve(new NodeTls(managerA).serverCredentials());
    const stranger = await b.node("s1", "swarm-manager", { clusterId: "cluster-a" });
    // Trusts cluster A's root, so the server is accepted, but presents a certificate of root B.
    const creds = grpc.credentials.createSsl(
      Buffer.from(a.root.certPem),
      Buffer.from(stranger.keyPem),
      Buffer.from(stranger.certPem),
    );
    await expect(call(port, creds, "AnyNode")).rejects.toEqual(refused("UNAUTHENTICATED", NEED_CERT));
    expect((await call(port, creds, "Public")).identity).toBeNull();
  });

  it("refuses a certificate of this CA that names another cluster", async () => {
    const port = await serve(new NodeTls(managerA).serverCredentials());
    const other = await a.node("x1", "swarm-worker", { clusterId: "cluster-z" });
    // NodeTls would refuse the server (a manager of cluster-a); plain credentials do not check it.
    const creds = grpc.credentials.createSsl(Buffer.from(other.rootCertPem), Buffer.from(other.keyPem), Buffer.from(other.certPem));
    await expect(call(port, creds, "AnyNode")).rejects.toEqual(
      refused("PERMISSION_DENIED", "certificate belongs to cluster cluster-z, not cluster-a"),
    );
  });

  it("lets a client without a certificate call only public methods", async () => {
    const port = await serve(new NodeTls(managerA).serverCredentials());
    expect(await call(port, bootstrapClientCredentials(a.root.certPem), "Public")).toEqual({ identity: null, serial: null });
    expect(await call(port, bootstrapClientCredentials(null), "Public")).toEqual({ identity: null, serial: null });
    await expect(call(port, bootstrapClientCredentials(a.root.certPem), "AnyNode")).rejects.toEqual(
      refused("UNAUTHENTICATED", NEED_CERT),
    );
  });

  it("refuses an expired client certificate", async () => {
    const port = await serve(new NodeTls(managerA).serverCredentials());
    const expired = await a.node("old", "swarm-worker", { now: new Date(Date.now() - 200 * DAY), validityMs: 90 * DAY });
    await expect(call(port, new NodeTls(expired).clientCredentials(), "AnyNode")).rejects.toEqual(
      refused("UNAUTHENTICATED", NEED_CERT),
    );
  });

  it("refuses a server with a worker's certificate, another cluster's, or another CA's", async () => {
    const client = new NodeTls(managerA).clientCredentials();
    const workerServer = await serve(new NodeTls(workerA).serverCredentials());
    await expect(call(workerServer, client, "Public")).rejects.toEqual(
      refused("UNAVAILABLE", /server certificate of node w1 has role swarm-worker: only swarm-manager nodes serve this/),
    );
    await expect(call(workerServer, bootstrapClientCredentials(a.root.certPem), "Public")).rejects.toEqual(
      refused("UNAVAILABLE", /server certificate of node w1 has role swarm-worker/),
    );
    const otherCluster = await serve(new NodeTls(await a.node("m9", "swarm-manager", { clusterId: "cluster-z" })).serverCredentials());
    await expect(call(otherCluster, client, "Public")).rejects.toEqual(
      refused("UNAVAILABLE", /server certificate of node m9 belongs to cluster cluster-z, not cluster-a/),
    );
    const otherCa = await serve(new NodeTls(await b.node("m2", "swarm-manager")).serverCredentials());
    await expect(call(otherCa, client, "Public")).rejects.toEqual(refused("UNAVAILABLE", UNTRUSTED));
    await expect(call(otherCa, bootstrapClientCredentials(a.root.certPem), "Public")).rejects.toEqual(
      refused("UNAVAILABLE", UNTRUSTED),
    );
  });

  it("presents a renewed client certificate on new connections after update(), server untouched", async () => {
    const port = await serve(new NodeTls(managerA).serverCredentials());
    const tls = new NodeTls(workerA);
    const creds = tls.clientCredentials();
    const first = await call(port, creds, "AnyNode");
    expect(first.serial).toBe(parseNodeCertificate(workerA.certPem).serial);

    const renewed = await a.node("w1", "swarm-worker");
    tls.update(renewed);
    const second = await call(port, creds, "AnyNode");
    expect(second).toEqual({
      identity: { nodeId: "w1", role: "swarm-worker", clusterId: "cluster-a" },
      serial: parseNodeCertificate(renewed.certPem).serial,
    });
    expect(second.serial).not.toBe(first.serial);
  });

  it("switches a running server to a new root and certificate on update()", async () => {
    const c = await Cluster.create("cluster-a");
    const serverTls = new NodeTls(managerA);
    const port = await serve(serverTls.serverCredentials());
    const workerC = new NodeTls(await c.node("w3", "swarm-worker"));
    await expect(call(port, workerC.clientCredentials(), "AnyNode")).rejects.toEqual(refused("UNAVAILABLE", UNTRUSTED));

    serverTls.update(await c.node("m1", "swarm-manager"));
    expect((await call(port, workerC.clientCredentials(), "AnyNode")).identity?.nodeId).toBe("w3");
    await expect(call(port, new NodeTls(workerA).clientCredentials(), "AnyNode")).rejects.toEqual(
      refused("UNAVAILABLE", UNTRUSTED),
    );
  });
});

describe("NodeTls material checks", () => {
  let a: Cluster;
  let b: Cluster;
  beforeAll(async () => {
    [a, b] = await Promise.all([Cluster.create("cluster-a"), Cluster.create("cluster-b")]);
  });

  it("refuses a certificate of another root, or a key that is not the certificate's", async () => {
    const m = await a.node("m1", "swarm-manager");
    const other = await b.node("m2", "swarm-manager");
    expect(() => new NodeTls({ ...m, rootCertPem: b.root.certPem })).toThrow(
      expect.objectContaining({ code: "CA_INVALID_CERTIFICATE", message: "certificate not signed by this cluster's root CA" }),
    );
    expect(() => new NodeTls({ ...m, keyPem: other.keyPem })).toThrow(
      expect.objectContaining({ code: "CA_INVALID_PRIVATE_KEY", message: "the node key does not belong to the certificate of node m1" }),
    );
    const tls = new NodeTls(m);
    expect(() => tls.update({ ...other, rootCertPem: a.root.certPem })).toThrow("certificate not signed by this cluster's root CA");
    expect(tls.certificate.nodeId).toBe("m1");
    expect(tls.material).toEqual(m);
  });

  it("dials managers by IP through the swarm-manager server name", async () => {
    const tls = new NodeTls(await a.node("w1", "swarm-worker"));
    expect(tls.channelOptions()).toEqual({
      "grpc.ssl_target_name_override": "swarm-manager",
      "grpc.default_authority": "swarm-manager",
      "grpc.use_local_subchannel_pool": 1,
    });
  });
});
