// Spawns member processes (bare Raft members or managers, built into dist/) and talks to them over their
// stdin/stdout JSON-lines channel. Used by the multi-process tests and by `npm run bench:raft`.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { closedPort as freePort } from "../../manager/raft/transport/test-support.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const inDist = here.includes(`${path.sep}dist${path.sep}`);

/** A compiled test program under dist/test/, and the flag that gives it its member id. */
export interface Program {
  script: string;
  idFlag: string;
}

function compiled(rel: string): string {
  return inDist ? path.resolve(here, "..", rel) : path.resolve(here, "../../dist/test", rel);
}

/** test/raft/member.ts: one bare Raft member. */
export const RAFT_MEMBER: Program = { script: compiled("raft/member.js"), idFlag: "--id" };
/** test/manager/manager-process.ts: one manager (Raft, store, Control API). */
export const MANAGER: Program = { script: compiled("manager/manager-process.js"), idFlag: "--raft-id" };

export type Reply = Record<string, unknown> & { error?: string; code?: string };

export class MemberProcess {
  private child: ChildProcess | null = null;
  private rid = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private exited: Promise<void> = Promise.resolve();
  readonly addr: string;

  constructor(
    readonly id: number,
    readonly dir: string,
    readonly port: number,
    private readonly extraArgs: string[],
    private readonly program: Program = RAFT_MEMBER,
  ) {
    this.addr = `127.0.0.1:${port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and waits for it to listen. */
  async start(init: string[] = []): Promise<void> {
    const script = this.program.script;
    if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`);
    // MEMBER_NODE_FLAGS adds node flags (e.g. --trace-gc); their output lines are passed to stderr.
    const nodeFlags = (process.env["MEMBER_NODE_FLAGS"] ?? "").split(" ").filter(Boolean);
    const child = spawn(process.execPath, ["--expose-gc", ...nodeFlags, script, this.program.idFlag, String(this.id), "--dir", this.dir, "--port", String(this.port), ...init, ...this.extraArgs], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.child = child;
    this.exited = new Promise((r) => child.once("exit", () => r()));
    child.once("exit", () => {
      if (this.child === child) this.child = null;
      for (const w of this.waiting.values()) w({ error: "member process exited", code: "EXITED" });
      this.waiting.clear();
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`member ${this.id} exited with code ${code} before it was ready`)));
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (!line.startsWith("{")) {
          process.stderr.write(`[member ${this.id}] ${line}\n`);
          return;
        }
        const msg = JSON.parse(line) as Reply & { rid?: number; event?: string };
        if (msg.event === "ready") resolve();
        if (msg.rid !== undefined) {
          const w = this.waiting.get(msg.rid);
          this.waiting.delete(msg.rid);
          w?.(msg);
        }
      });
    });
    await ready;
  }

  request(op: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    const child = this.child;
    if (!child) return Promise.resolve({ error: "member process is not running", code: "EXITED" });
    const rid = ++this.rid;
    return new Promise((resolve) => {
      this.waiting.set(rid, resolve);
      child.stdin!.write(JSON.stringify({ rid, op, ...fields }) + "\n");
    });
  }

  /** SIGKILL: no shutdown code runs, as when a machine dies. */
  async kill9(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  /** Closes stdin, which makes the member stop cleanly. */
  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface ClusterOptions {
  size: number;
  /** The program each member runs (default: a bare Raft member). */
  program?: Program;
  machine?: "set" | "hash";
  tickMs?: number;
  /** Extra member flags, e.g. `--no-fast-failover`. */
  flags?: string[];
}

/** A cluster of member processes with their own data dirs; `close()` removes everything. */
export class MemberCluster {
  readonly members: MemberProcess[] = [];
  private readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  static async start(o: ClusterOptions): Promise<MemberCluster> {
    const c = new MemberCluster(mkdtempSync(path.join(tmpdir(), "raft-cluster-")));
    try {
      const program = o.program ?? RAFT_MEMBER;
      const extra = [
        ...(program === RAFT_MEMBER ? ["--machine", o.machine ?? "set"] : []),
        "--tick-ms",
        String(o.tickMs ?? 100),
        ...(o.flags ?? []),
      ];
      for (let id = 1; id <= o.size; id++) {
        c.members.push(new MemberProcess(id, path.join(c.root, `m${id}`), await freePort(), extra, program));
      }
      const first = c.members[0]!;
      await first.start(["--bootstrap"]);
      await c.waitFor(async () => (await first.request("status"))["state"] === "leader", "member 1 to lead", 10_000);
      for (const m of c.members.slice(1)) {
        await m.start(["--join", `1=${first.addr}`]);
        const r = await first.request("add", { id: m.id, addr: m.addr });
        if (r.error) throw new Error(`adding member ${m.id}: ${r.error}`);
      }
      return c;
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  /** The member that says it leads, or null. */
  async leader(): Promise<MemberProcess | null> {
    for (const m of this.members) {
      if (!m.running) continue;
      if ((await m.request("status"))["state"] === "leader") return m;
    }
    return null;
  }

  async waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()));
    rmSync(this.root, { recursive: true, force: true });
  }
}
