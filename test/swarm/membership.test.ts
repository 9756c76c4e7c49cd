// Cluster membership on real test hosts: five swarmd processes, one per network namespace, formed
// and changed with the real CLI. Managers talk mutual TLS over the hosts' own addresses.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlClient, CreateSecretRequest } from "../../proto/gen/control.js";
import { LocalNodeState } from "../../proto/gen/daemon.js";
import { NodeRole } from "../../proto/gen/types.js";
import { waitFor } from "../hosts/poll.js";
import { SwarmHosts, nodeList, type SwarmdHost } from "./swarm-hosts.js";

let c: SwarmHosts;
let h: SwarmdHost[];

beforeAll(async () => {
  c = await SwarmHosts.create(5);
  h = c.hosts;
}, 120_000);

afterAll(async () => {
  await c?.destroy();
}, 60_000);

function byHost(nodes: Awaited<ReturnType<typeof nodeList>>): Record<string, { Status: string; ManagerStatus: string }> {
  return Object.fromEntries(nodes.map((n) => [n.Hostname, { Status: n.Status, ManagerStatus: n.ManagerStatus }]));
}

describe("a cluster of real swarmd hosts", () => {
  it("forms with swarm init and swarm join: 3 managers and 2 workers, all ready", async () => {
    const init = await h[0]!.ok("init");
    expect(init).toMatch(/^Swarm initialized: current node \([0-9a-z]{25}\) is now a manager\./);
    expect(init).toContain(`swarm join --token SWMTKN-1-`);
    const managerToken = (await h[0]!.ok("join-token", "-q", "manager")).trim();
    const workerToken = (await h[0]!.ok("join-token", "-q", "worker")).trim();
    expect(managerToken).not.toBe(workerToken);
    for (const m of [h[1]!, h[2]!]) expect(await m.ok("join", "--token", managerToken, h[0]!.addr)).toContain("This node joined a swarm as a manager.");
    for (const w of [h[3]!, h[4]!]) expect(await w.ok("join", "--token", workerToken, h[0]!.addr)).toContain("This node joined a swarm as a worker.");

    await c.untilNodes(h[1]!, "5 ready nodes with the right roles", (nodes) => {
      expect(byHost(nodes)).toEqual({
        h1: { Status: "Ready", ManagerStatus: "Leader" },
        h2: { Status: "Ready", ManagerStatus: "Reachable" },
        h3: { Status: "Ready", ManagerStatus: "Reachable" },
        h4: { Status: "Ready", ManagerStatus: "" },
        h5: { Status: "Ready", ManagerStatus: "" },
      });
    });
    const info = await h[2]!.info();
    expect(info).toMatchObject({ managers: 3, nodes: 5, role: NodeRole.NODE_ROLE_MANAGER });
    // A worker cannot read cluster state.
    const refused = await h[3]!.swarm("node", "ls");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/This node is not a swarm manager\. Worker nodes can't be used to view or modify cluster state/);
  });

  it("promotes a worker and demotes managers, the leader included", async () => {
    expect(await h[1]!.ok("node", "promote", "h4")).toContain("Node h4 promoted to a manager in the swarm.");
    await c.untilNodes(h[1]!, "h4 to be a reachable manager", (nodes) => expect(byHost(nodes)["h4"]).toEqual({ Status: "Ready", ManagerStatus: "Reachable" }));
    await waitFor(async () => (await h[3]!.info()).role === NodeRole.NODE_ROLE_MANAGER, { timeoutMs: 30_000, what: "h4 to run as a manager" });

    // Demote the leader (h1): leadership moves first, then h1 becomes a worker.
    expect(await h[1]!.ok("node", "demote", "h1")).toContain("Manager h1 demoted in the swarm.");
    await c.untilNodes(h[1]!, "h1 demoted and another leader", (nodes) => {
      const m = byHost(nodes);
      expect(m["h1"]).toEqual({ Status: "Ready", ManagerStatus: "" });
      expect(["h2", "h3", "h4"].filter((n) => m[n]!.ManagerStatus === "Leader")).toHaveLength(1);
    });
    await waitFor(async () => (await h[0]!.info()).role === NodeRole.NODE_ROLE_WORKER, { timeoutMs: 30_000, what: "h1 to run as a worker" });
  });

  it("keeps working after kill -9 of a manager", async () => {
    await h[2]!.kill9();
    await h[1]!.ok("node", "update", "--label-add", "zone=a", "h5");
    await c.untilNodes(h[3]!, "h3 down and the label visible from h4", (nodes) => {
      expect(byHost(nodes)["h3"]!.ManagerStatus).toBe("Unreachable");
    });
    const inspect = JSON.parse(await h[3]!.ok("node", "inspect", "h5")) as { Spec?: { Labels?: Record<string, string> }; spec?: { annotations?: { labels?: Record<string, string> } } }[];
    expect(JSON.stringify(inspect)).toContain('"zone":"a"');
    await h[2]!.start();
    await c.untilNodes(h[1]!, "h3 back", (nodes) => expect(byHost(nodes)["h3"]).toEqual({ Status: "Ready", ManagerStatus: expect.stringMatching(/^(Reachable|Leader)$/) }));
  });

  it("restarts every swarmd and finds the cluster intact", async () => {
    const before = (await nodeList(h[1]!)).map((n) => n.ID).sort();
    for (const x of h) await x.stop();
    await Promise.all(h.map((x) => x.start()));
    await c.untilNodes(h[1]!, "all 5 nodes ready again after the restart", (nodes) => {
      expect(nodes.map((n) => n.ID).sort()).toEqual(before);
      expect(nodes.every((n) => n.Status === "Ready")).toBe(true);
      expect(nodes.filter((n) => n.ManagerStatus === "Leader")).toHaveLength(1);
    });
    expect(await h[3]!.ok("node", "inspect", "h5")).toContain('"zone": "a"');
  });

  it("with autolock, a restarted manager stays locked until swarm unlock", async () => {
    const out = await h[1]!.ok("update", "--autolock=true");
    const key = /SWMKEY-1-[A-Za-z0-9+/]+/.exec(out)?.[0];
    expect(key).toBeDefined();
    await h[2]!.stop();
    await h[2]!.start();
    expect((await h[2]!.info()).state).toBe(LocalNodeState.LOCAL_NODE_STATE_LOCKED);
    const locked = await h[2]!.swarm("node", "ls");
    expect(locked.code).not.toBe(0);
    expect(locked.stderr).toMatch(/needs to be unlocked/);
    const wrong = await h[2]!.swarmWithInput("SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", "unlock");
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/invalid key/);
    expect((await h[2]!.swarmWithInput(`${key!}\n`, "unlock")).code).toBe(0);
    await c.untilNodes(h[2]!, "the unlocked manager to serve", (nodes) => expect(nodes).toHaveLength(5));
  });

  it("never writes a secret's value in plaintext under any manager's data dir", async () => {
    const value = "plaintext-canary-7f3a9c0e51b2";
    const client = new ControlClient(`unix://${h[1]!.socket}`, grpc.credentials.createInsecure());
    const created = await new Promise<number>((resolve, reject) =>
      client.createSecret(CreateSecretRequest.fromPartial({ spec: { annotations: { name: "canary", labels: {} }, data: Buffer.from(value) } }), (err, res) =>
        err ? reject(err) : resolve(res.secret!.meta!.version!.index),
      ),
    );
    client.close();
    // Every manager must have the secret in its log before its files are read.
    for (const m of [h[1]!, h[2]!, h[3]!]) {
      await waitFor(async () => ((await m.info()).raft?.appliedIndex ?? 0) >= created, { timeoutMs: 10_000, what: `${m.host.name} to apply the secret` });
    }
    for (const x of h) {
      for (const file of walk(x.dataDir)) {
        expect(readFileSync(file).includes(value), `${file} holds the secret in plaintext`).toBe(false);
      }
    }
  });
});

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
