// Test kit: a fake swarmd (Daemon, Control and Logs gRPC services on a unix socket in a temp dir)
// that answers with the handlers a test gives and records every request, and `runCli`, which runs
// the CLI in-process against it on a fake clock and captures stdout, stderr and the exit code.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { ControlService } from "../../proto/gen/control.js";
import { DaemonService } from "../../proto/gen/daemon.js";
import { LogsService, type SubscribeLogsMessage, type SubscribeLogsRequest } from "../../proto/gen/logs.js";
import type { ControlApi, DaemonApi } from "../client.js";
import type { InputStream } from "../context.js";
import { run } from "../program.js";

/** Handlers for some methods of an API: request in, response (or a thrown grpcError) out. */
export type FakeHandlers<Api> = {
  [K in keyof Api]?: Api[K] extends (req: infer Req) => Promise<infer Res> ? (req: Req) => Res | Promise<Res> : never;
};

/** A server-streaming handler: request in, the messages to send out (a thrown grpcError ends the call with it). */
export type FakeStream<Req, Res> = (req: Req) => Iterable<Res> | AsyncIterable<Res>;

/** Handlers of the Logs service. */
export interface FakeLogsHandlers {
  subscribeLogs?: FakeStream<SubscribeLogsRequest, SubscribeLogsMessage>;
}

/** One request the fake received. */
export interface RecordedCall {
  /** Method name as in the TypeScript API ("listNodes"). */
  method: string;
  request: unknown;
}

/** A running fake swarmd. */
export interface FakeSwarmd {
  /** The -H / SWARM_HOST value that reaches it. */
  host: string;
  calls: RecordedCall[];
  /** The requests of one method, in order. */
  requests<T = unknown>(method: string): T[];
  close(): Promise<void>;
}

/** An error the fake answers with: a gRPC status code and details. */
export function grpcError(code: grpc.status, details: string): Error {
  return Object.assign(new Error(details), { code, details });
}

type AnyHandler = (req: unknown) => unknown;

function statusOf(e: Error & Partial<grpc.StatusObject>): Partial<grpc.StatusObject> {
  return { code: e.code ?? grpc.status.INTERNAL, details: e.details ?? e.message };
}

function unaryHandler(method: string, handler: AnyHandler, calls: RecordedCall[]): grpc.UntypedHandleCall {
  return ((call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    calls.push({ method, request: call.request });
    Promise.resolve()
      .then(() => handler(call.request))
      .then(
        (res) => cb(null, res),
        (e: Error & Partial<grpc.StatusObject>) => cb(statusOf(e)),
      );
  }) as grpc.UntypedHandleCall;
}

function streamHandler(method: string, handler: AnyHandler, calls: RecordedCall[]): grpc.UntypedHandleCall {
  return ((call: grpc.ServerWritableStream<unknown, unknown>) => {
    calls.push({ method, request: call.request });
    void (async () => {
      try {
        for await (const message of (await handler(call.request)) as AsyncIterable<unknown>) {
          if (call.cancelled) return;
          call.write(message);
        }
        call.end();
      } catch (e) {
        call.emit("error", statusOf(e as Error & Partial<grpc.StatusObject>));
      }
    })();
  }) as grpc.UntypedHandleCall;
}

function implement(
  service: Record<string, { responseStream: boolean }>,
  handlers: Record<string, AnyHandler | undefined>,
  calls: RecordedCall[],
): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(service)) {
    const handler = handlers[method];
    if (!handler) continue; // grpc-js answers UNIMPLEMENTED
    impl[method] = def.responseStream ? streamHandler(method, handler, calls) : unaryHandler(method, handler, calls);
  }
  return impl;
}

/** Starts a fake swarmd serving the given handlers; unlisted methods answer UNIMPLEMENTED. */
export async function startFakeSwarmd(handlers: {
  daemon?: FakeHandlers<DaemonApi>;
  control?: FakeHandlers<ControlApi>;
  logs?: FakeLogsHandlers;
}): Promise<FakeSwarmd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "swarm-cli-"));
  const socket = path.join(dir, "swarmd.sock");
  const calls: RecordedCall[] = [];
  const server = new grpc.Server();
  server.addService(DaemonService, implement(DaemonService, (handlers.daemon ?? {}) as Record<string, AnyHandler>, calls));
  server.addService(ControlService, implement(ControlService, (handlers.control ?? {}) as Record<string, AnyHandler>, calls));
  server.addService(LogsService, implement(LogsService, (handlers.logs ?? {}) as Record<string, AnyHandler>, calls));
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return {
    host: `unix://${socket}`,
    calls,
    requests: <T>(method: string) => calls.filter((c) => c.method === method).map((c) => c.request as T),
    close: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What one CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How runCli runs the CLI. */
export interface RunOptions {
  /** SWARM_HOST; unset = none. */
  host?: string;
  /** Piped stdin (not a TTY unless `tty`). */
  stdin?: string;
  tty?: boolean;
  /** stdout is a terminal of this many columns (progress is redrawn in place). */
  terminalColumns?: number;
  /** The fake clock's start (Unix ms); default 2025-01-01. Every sleep of the CLI advances it. */
  now?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  connectTimeoutMs?: number;
}

/** A seeded source of numbers in [0, 1) (mulberry32), so generated names are the same every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Runs `swarm <argv>` in-process with SWARM_HOST = `host`, on a fake clock (the CLI's sleeps
 * return at once and move the clock forward, so nothing really waits) and a seeded random source.
 */
export async function runCli(argv: string[], opts: RunOptions = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  let clock = opts.now ?? Date.UTC(2025, 0, 1);
  const stdin: InputStream = Object.assign(Readable.from(opts.stdin === undefined ? [] : [opts.stdin]), { isTTY: opts.tty ?? false });
  const terminal = opts.terminalColumns === undefined ? {} : { isTTY: true, columns: opts.terminalColumns };
  const code = await run(argv, {
    stdout: { write: (s: string) => (stdout += s), ...terminal },
    stderr: { write: (s: string) => (stderr += s) },
    env: { ...(opts.host === undefined ? {} : { SWARM_HOST: opts.host }), ...opts.env },
    stdin,
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
    random: seededRandom(1),
    connectTimeoutMs: opts.connectTimeoutMs ?? 2_000,
    callTimeoutMs: 10_000,
  });
  return { code, stdout, stderr };
}
