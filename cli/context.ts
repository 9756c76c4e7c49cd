// What a command gets to work with: the process's streams and environment (injected, so tests run
// the CLI in-process), the clock, timer and random source, and a lazily opened connection to swarmd.
import { connect, type Swarmd } from "./client.js";

/** Something text is written to (process.stdout, or a buffer in tests). */
export interface Output {
  write(chunk: string): unknown;
  /** A terminal: progress is redrawn in place. */
  isTTY?: boolean;
  /** The terminal's width (docker draws progress bars only when it is over 110). */
  columns?: number;
}

/** A readable stdin; `isTTY` decides whether `swarm unlock` prompts. */
export type InputStream = NodeJS.ReadableStream & { isTTY?: boolean };

/** The CLI's view of its process. Only stdout, stderr and env are required. */
export interface CliIO {
  stdout: Output;
  stderr: Output;
  env: Readonly<Record<string, string | undefined>>;
  /** Default: process.stdin. */
  stdin?: InputStream;
  /** Default: Date.now. */
  now?: () => number;
  /** Waits between polls (progress); default a real timer. Tests advance their clock instead. */
  sleep?: (ms: number) => Promise<void>;
  /** Numbers in [0, 1) for generated names; default Math.random. Tests pass a seeded source. */
  random?: () => number;
  /** How long to wait for swarmd's socket to accept; default 5 s. */
  connectTimeoutMs?: number;
  /** Deadline of each call to swarmd; default 5 min (joining waits for a certificate and Raft). */
  callTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_CALL_TIMEOUT_MS = 300_000;

/** Shared by every command of one `run`: output, clock, stdin and the swarmd connection. */
export class CommandContext {
  private session: Promise<Swarmd> | undefined;

  constructor(
    private readonly io: CliIO,
    /** The -H value, SWARM_HOST or the default, read when the first call is made. */
    private readonly host: () => string,
  ) {}

  /** Writes to stdout. */
  out(text: string): void {
    this.io.stdout.write(text);
  }

  /** Writes one line to stdout. */
  line(text = ""): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** Writes to stderr. */
  err(text: string): void {
    this.io.stderr.write(text);
  }

  now(): number {
    return (this.io.now ?? Date.now)();
  }

  /** A number in [0, 1) (seeded in tests). */
  random(): number {
    return (this.io.random ?? Math.random)();
  }

  /** Waits `ms` (on the injected timer in tests). */
  sleep(ms: number): Promise<void> {
    return this.io.sleep ? this.io.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** stdout itself (its `isTTY` and `columns` decide how progress is drawn). */
  get stdout(): Output {
    return this.io.stdout;
  }

  /** The process environment (`-e NAME` takes NAME's value from here). */
  get env(): Readonly<Record<string, string | undefined>> {
    return this.io.env;
  }

  get stdin(): InputStream {
    return this.io.stdin ?? process.stdin;
  }

  /** The connection to swarmd, opened on first use. */
  connect(): Promise<Swarmd> {
    this.session ??= connect({
      host: this.host(),
      connectTimeoutMs: this.io.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      callTimeoutMs: this.io.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    });
    return this.session;
  }

  /** Closes the connection if one was opened. */
  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await s.then((c) => c.close()).catch(() => undefined);
  }
}
