// Test kit: a fake swarmd (Daemon and Control gRPC services on a unix socket in a temp dir) that
// answers with the handlers a test gives and records every request, and `runCli`, which runs the
// CLI in-process against it and captures stdout, stderr and the exit code.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { ControlService } from "../../proto/gen/control.js";
import { DaemonService } from "../../proto/gen/daemon.js";
import type { ControlApi, DaemonApi } from "../client.js";
import type { InputStream } from "../context.js";
import { run } from "../program.js";

/** Handlers for some methods of an API: request in, response (or a thrown grpcError) out. */
export type FakeHandlers<Api> = {
  [K in keyof Api]?: Api[K] extends (req: infer Req) => Promise<infer Res> ? (req: Req) => Res | Promise<Res> : never;
};

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

function implement(
  service: Record<string, { responseStream: boolean }>,
  handlers: Record<string, ((req: unknown) => unknown) | undefined>,
  calls: RecordedCall[],
): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(service)) {
    const handler = handlers[method];
    if (!handler || def.responseStream) continue; // grpc-js answers UNIMPLEMENTED
    impl[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      calls.push({ method, request: call.request });
      Promise.resolve()
        .then(() => handler(call.request))
        .then(
          (res) => cb(null, res),
          (e: Error & Partial<grpc.StatusObject>) => cb({ code: e.code ?? grpc.status.INTERNAL, details: e.details ?? e.message }),
        );
    }) as grpc.UntypedHandleCall;
  }
  return impl;
}

/** Starts a fake swarmd serving the given handlers; unlisted methods answer UNIMPLEMENTED. */
export async function startFakeSwarmd(handlers: { daemon?: FakeHandlers<DaemonApi>; control?: FakeHandlers<ControlApi> }): Promise<FakeSwarmd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "swarm-cli-"));
  const socket = path.join(dir, "swarmd.sock");
  const calls: RecordedCall[] = [];
  const server = new grpc.Server();
  server.addService(DaemonService, implement(DaemonService, (handlers.daemon ?? {}) as Record<string, (req: unknown) => unknown>, calls));
  server.addService(ControlService, implement(ControlService, (handlers.control ?? {}) as Record<string, (req: unknown) => unknown>, calls));
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

/** Runs `swarm <argv>` in-process with SWARM_HOST = `host`; `stdin` is piped input (not a TTY). */
export async function runCli(
  argv: string[],
  opts: { host?: string; stdin?: string; tty?: boolean; now?: number; connectTimeoutMs?: number } = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const stdin: InputStream = Object.assign(Readable.from(opts.stdin === undefined ? [] : [opts.stdin]), { isTTY: opts.tty ?? false });
  const code = await run(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: opts.host === undefined ? {} : { SWARM_HOST: opts.host },
    stdin,
    now: () => opts.now ?? Date.UTC(2025, 0, 1),
    connectTimeoutMs: opts.connectTimeoutMs ?? 2_000,
    callTimeoutMs: 10_000,
  });
  return { code, stdout, stderr };
}
