// A long-running program in a test host (swarmd, dockerd, a test server): its last output lines for
// failure messages, waiting for a line, stopping with SIGTERM escalating to SIGKILL. Every HostProcess is
// registered (cleanup.ts) so that one left running is killed, by its own PID, at exit or when its network
// is destroyed.
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { registerProcess, unregisterProcess, type TrackedProcess } from "./cleanup.js";
import type { TestHost, TestNetwork } from "./network.js";

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface HostProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** "pipe" to write to `child.stdin` (default "ignore"). */
  stdin?: "ignore" | "pipe";
  /** Name in messages (default: host name and program). */
  label?: string;
}

const RING = 500;

export class HostProcess implements TrackedProcess {
  readonly label: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitResult>;
  private readonly ring: string[] = [];
  private result: ExitResult | null = null;
  private closed = false;
  private readonly waiters = new Set<{ test: (line: string) => boolean; resolve: (l: string) => void; fail: (why: string) => void }>();

  private constructor(
    readonly child: ChildProcess,
    readonly host: TestHost,
    label: string,
  ) {
    this.label = label;
    this.exited = new Promise<ExitResult>((resolve) => {
      child.once("exit", (code, signal) => resolve((this.result = { code, signal })));
      // A spawn that failed (no nsenter) emits "error" and no "exit".
      child.once("error", (e) => {
        this.push(`[spawn error] ${e.message}`);
        if (child.pid === undefined) resolve((this.result = { code: null, signal: null }));
      });
    });
    void this.exited.then(() => unregisterProcess(this));
    const echo = process.env["HOST_PROCESS_ECHO"] === "1";
    let open = 0;
    for (const [stream, tag] of [
      [child.stdout, ""],
      [child.stderr, "! "],
    ] as const) {
      if (!stream) continue;
      open++;
      createInterface({ input: stream, crlfDelay: Infinity })
        .on("line", (line) => {
          this.push(tag + line);
          if (echo) process.stderr.write(`[${this.label}] ${tag}${line}\n`);
        })
        .once("close", () => {
          if (--open === 0) this.onClose();
        });
    }
    if (open === 0) void this.exited.then(() => this.onClose());
    registerProcess(this);
  }

  /** Starts `argv` inside `host` (via `net.spawn`), stdout and stderr captured. */
  static start(net: TestNetwork, host: TestHost, argv: string[], opts: HostProcessOptions = {}): HostProcess {
    const child = net.spawn(host, argv, { env: opts.env, cwd: opts.cwd, stdio: [opts.stdin ?? "ignore", "pipe", "pipe"] });
    return new HostProcess(child, host, opts.label ?? `${host.name} ${argv[0]?.split("/").pop() ?? "?"}`);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get netns(): string {
    return this.host.netns;
  }

  /** Whether it has not exited yet. */
  get running(): boolean {
    return this.result === null && this.child.pid !== undefined;
  }

  /** The last (up to 500) output lines, oldest first; stderr lines start with "! ". */
  lines(): string[] {
    return [...this.ring];
  }

  /** The last `n` lines as one string headed by the label, for failure messages. */
  tail(n = 40): string {
    const state = this.result ? `exited code=${this.result.code} signal=${this.result.signal}` : `running pid=${this.pid}`;
    return [`--- ${this.label} (${state}), last ${Math.min(n, this.ring.length)} lines:`, ...this.ring.slice(-n)].join("\n");
  }

  /**
   * Resolves with the first output line (already captured or to come) that matches; rejects when the
   * output ends first or after `timeoutMs`, quoting the last lines. Stderr lines are matched without their "! ".
   */
  waitForLine(predicate: RegExp | ((line: string) => boolean), timeoutMs: number): Promise<string> {
    const test = typeof predicate === "function" ? predicate : (l: string) => predicate.test(l);
    const strip = (l: string): string => (l.startsWith("! ") ? l.slice(2) : l);
    const seen = this.ring.find((l) => test(strip(l)));
    if (seen !== undefined) return Promise.resolve(strip(seen));
    if (this.closed) return Promise.reject(new Error(`${this.label} ended its output before a matching line\n${this.tail()}`));
    return new Promise((resolve, reject) => {
      const w = {
        test: (l: string) => test(strip(l)),
        resolve: (l: string) => {
          done();
          resolve(strip(l));
        },
        fail: (why: string) => {
          done();
          reject(new Error(`${why}\n${this.tail()}`));
        },
      };
      const timer = setTimeout(() => w.fail(`timed out after ${timeoutMs}ms waiting for a line matching ${predicate} from ${this.label}`), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(w);
      };
      this.waiters.add(w);
    });
  }

  /** Sends `signal`, and SIGKILL if it has not exited after `timeoutMs`; resolves when it has exited. */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<ExitResult> {
    if (!this.running) return this.exited;
    this.signal(signal);
    let timer: NodeJS.Timeout | undefined;
    const escalate = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
    const first = await Promise.race([this.exited, escalate]);
    clearTimeout(timer);
    if (first) return first;
    this.signal("SIGKILL");
    return this.exited;
  }

  /** SIGKILL: no shutdown code runs, as when a machine dies. Resolves when it has exited. */
  kill9(): Promise<ExitResult> {
    this.kill9Sync();
    return this.exited;
  }

  kill9Sync(): void {
    if (this.running) this.signal("SIGKILL");
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  private push(line: string): void {
    this.ring.push(line);
    if (this.ring.length > RING) this.ring.shift();
    for (const w of [...this.waiters]) if (w.test(line)) w.resolve(line);
  }

  private onClose(): void {
    this.closed = true;
    for (const w of [...this.waiters]) w.fail(`${this.label} ended its output before a matching line`);
  }
}
