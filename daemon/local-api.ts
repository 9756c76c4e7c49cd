// The local control socket: the Daemon service (init, join, leave, unlock, info) and, while this
// node runs a manager, the Control and Logs services (calls go to the leader); with `--test-hooks`, the
// test-only TestHooks service (daemon/test-hooks.ts). Plain gRPC on a unix socket,
// mode 0660: only root and its group reach it.
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ControlService as ControlDefinition } from "../proto/gen/control.js";
import { DaemonService as DaemonDefinition, type DaemonServer } from "../proto/gen/daemon.js";
import { LogsService as LogsDefinition, type SubscribeLogsMessage, type SubscribeLogsRequest } from "../proto/gen/logs.js";
import { TestHooksService as TestHooksDefinition } from "../proto/gen/test_hooks.js";
import type { Daemon } from "./daemon.js";
import { toStatus } from "./errors.js";
import { testHooksImplementation } from "./test-hooks.js";

/** The socket path of a `unix://` address (or a bare path). */
export function socketPath(host: string): string {
  if (host.startsWith("unix://")) return host.slice("unix://".length);
  if (host.includes("://")) throw new Error(`unsupported -H address "${host}": only unix:///path sockets are served`);
  return host;
}

function reply<T>(p: Promise<T>, callback: grpc.sendUnaryData<T>): void {
  p.then(
    (res) => callback(null, res),
    (e: unknown) => callback(toStatus(e)),
  );
}

function daemonImplementation(d: Daemon): DaemonServer {
  return {
    init: (call, cb) => reply(d.init(call.request), cb),
    join: (call, cb) => reply(d.join(call.request), cb),
    leave: (call, cb) => reply(d.leave(call.request.force).then(() => ({})), cb),
    unlock: (call, cb) => reply(d.unlock(call.request.unlockKey).then(() => ({})), cb),
    info: (_call, cb) => reply(d.info(), cb),
  };
}

/** Control handlers that serve through the manager side while there is one, and explain why not otherwise. */
function controlImplementation(d: Daemon): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(ControlDefinition)) {
    if (def.responseStream) {
      handlers[name] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
        const rt = d.managerRuntime();
        if (!rt) {
          call.emit("error", toStatus(d.controlUnavailableReason()));
          return;
        }
        (rt.controlHandlers[name] as grpc.handleServerStreamingCall<unknown, unknown>)(call);
      }) as grpc.UntypedHandleCall;
    } else {
      handlers[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const rt = d.managerRuntime();
        if (!rt) {
          cb(toStatus(d.controlUnavailableReason()));
          return;
        }
        (rt.controlHandlers[name] as grpc.handleUnaryCall<unknown, unknown>)(call, cb);
      }) as grpc.UntypedHandleCall;
    }
  }
  return handlers;
}

/** Logs through the manager side while there is one (a worker answers like Control does). */
function logsImplementation(d: Daemon): grpc.UntypedServiceImplementation {
  return {
    subscribeLogs: ((call: grpc.ServerWritableStream<SubscribeLogsRequest, SubscribeLogsMessage>) => {
      const rt = d.managerRuntime();
      if (!rt) return void call.emit("error", toStatus(d.controlUnavailableReason()));
      (rt.logsHandlers["subscribeLogs"] as grpc.handleServerStreamingCall<SubscribeLogsRequest, SubscribeLogsMessage>)(call);
    }) as grpc.UntypedHandleCall,
  };
}

/** `testHooks`: also serve the test-only TestHooks service (`swarmd --test-hooks`). */
export async function serveLocalApi(d: Daemon, host: string, opts: { testHooks?: boolean } = {}): Promise<grpc.Server> {
  const file = socketPath(host);
  mkdirSync(path.dirname(file), { recursive: true });
  rmSync(file, { force: true });
  const server = new grpc.Server();
  server.addService(DaemonDefinition, daemonImplementation(d) as unknown as grpc.UntypedServiceImplementation);
  server.addService(ControlDefinition, controlImplementation(d));
  server.addService(LogsDefinition, logsImplementation(d));
  if (opts.testHooks) server.addService(TestHooksDefinition, testHooksImplementation(d));
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${file}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(new Error(`cannot listen on unix://${file}: ${err.message}`)) : resolve(),
    ),
  );
  chmodSync(file, 0o660);
  return server;
}
