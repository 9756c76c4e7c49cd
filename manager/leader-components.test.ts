// Leader-only components follow leadership, and never start while leadership is in doubt.
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { LeaderComponents, type LeaderComponent } from "./leader-components.js";

class FakeLeadership extends EventEmitter {
  leader = false;
  readFails = false;
  isLeader(): boolean {
    return this.leader;
  }
  set(leader: boolean): void {
    this.leader = leader;
    this.emit("role", leader ? "leader" : "follower");
  }
  async read(): Promise<void> {
    if (this.readFails) throw new Error("no quorum");
  }
}

function component(name: string, log: string[]): LeaderComponent {
  return {
    name,
    start: () => void log.push(`start ${name}`),
    stop: () => void log.push(`stop ${name}`),
  };
}

async function settle(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe("LeaderComponents", () => {
  it("starts the components in order on leadership and stops them in reverse on loss", async () => {
    const src = new FakeLeadership();
    const log: string[] = [];
    const lc = new LeaderComponents(src, [component("allocator", log), component("scheduler", log)], 10);
    expect(lc.runningNames()).toEqual([]);
    src.set(true);
    await settle(() => lc.runningNames().length === 2);
    src.set(false);
    await settle(() => lc.runningNames().length === 0);
    expect(log).toEqual(["start allocator", "start scheduler", "stop scheduler", "stop allocator"]);
    await lc.close();
  });

  it("does not start when leadership is lost during the start delay", async () => {
    const src = new FakeLeadership();
    const log: string[] = [];
    const lc = new LeaderComponents(src, [component("a", log)], 50);
    src.set(true);
    src.set(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(log).toEqual([]);
    await lc.close();
  });

  it("does not start when the read barrier finds no quorum", async () => {
    const src = new FakeLeadership();
    src.readFails = true;
    const log: string[] = [];
    const lc = new LeaderComponents(src, [component("a", log)], 0);
    src.set(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(log).toEqual([]);
    await lc.close();
  });

  it("stops everything on close", async () => {
    const src = new FakeLeadership();
    const log: string[] = [];
    const lc = new LeaderComponents(src, [component("a", log)], 0);
    src.set(true);
    await settle(() => lc.runningNames().length === 1);
    await lc.close();
    expect(log).toEqual(["start a", "stop a"]);
    src.set(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual(["start a", "stop a"]);
  });
});
