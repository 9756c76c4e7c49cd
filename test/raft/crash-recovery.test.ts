// Three Raft members as separate processes on loopback gRPC with level on disk: kill -9 the leader
// during a write load and restart it; nothing acknowledged is lost and the state machines agree.
import { afterEach, expect, it } from "vitest";
import { MemberCluster, type MemberProcess } from "../cluster/process-cluster.js";

let cluster: MemberCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

/** Writes unique values through whichever member leads, until stopped; records what was acknowledged. */
class Writer {
  readonly acked: string[] = [];
  attempts = 0;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly c: MemberCluster) {}

  start(concurrency: number): void {
    let seq = 0;
    const loop = async (w: number): Promise<void> => {
      let target: MemberProcess | null = null;
      while (!this.stopped) {
        target ??= await this.c.leader();
        if (!target) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const value = `w${w}-${++seq}`;
        this.attempts++;
        const r = await target.request("propose", { data: value });
        if (r.error) target = null;
        else this.acked.push(value);
      }
    };
    this.done = Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w))).then(() => undefined);
  }

  async waitAcked(n: number): Promise<void> {
    await this.c.waitFor(async () => this.acked.length >= n, `${n} acknowledged writes`, 60_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

it("loses no acknowledged write when the leader is killed with SIGKILL and restarted", async () => {
  cluster = await MemberCluster.start({ size: 3, machine: "set" });
  const writer = new Writer(cluster);
  writer.start(8);
  await writer.waitAcked(300);

  const leader = await cluster.leader();
  expect(leader).not.toBeNull();
  await leader!.kill9();
  const ackedAtKill = writer.acked.length;
  await writer.waitAcked(ackedAtKill + 300); // the survivors elect a leader and keep committing

  await leader!.start();
  await writer.waitAcked(writer.acked.length + 200);
  await writer.stop();

  // Every member converges on one state that holds every acknowledged write exactly once.
  const c = cluster;
  await c.waitFor(async () => {
    const states = await Promise.all(c.members.map((m) => m.request("state")));
    return states.every((s) => !s.error && s["hash"] === states[0]!["hash"] && s["count"] === states[0]!["count"]);
  }, "the three state machines to agree");
  const states = await Promise.all(c.members.map((m) => m.request("state", { items: true })));
  const items = states[0]!["items"] as string[];
  expect(new Set(items).size).toBe(items.length);
  const present = new Set(items);
  const lost = writer.acked.filter((v) => !present.has(v));
  expect(lost).toEqual([]);
  for (const s of states) expect(s["items"]).toEqual(items);
  expect(writer.acked.length).toBeGreaterThan(800);
});
