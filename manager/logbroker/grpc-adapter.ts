// The Logs and LogBroker services over gRPC: thin adapters from grpc-js calls to the LogBroker.
//
// LogBroker (agents): only the leader serves it. A follower, or a leader whose broker has not started
// yet, answers UNAVAILABLE naming the leader in `swarm-leader-addr`. The caller's node id comes from
// its verified TLS certificate (`identify`), never from the request.
//
// Logs (clients, managers only): the leader serves it from its broker and sends the response headers
// once the subscription is accepted; a follower forwards the whole stream to the leader (marked with
// `swarm-redirect`, so a non-leader never bounces it on) and relays it back, answering UNAVAILABLE if
// the leader has not accepted it within `acceptTimeoutMs`.
import * as grpc from "@grpc/grpc-js";
import {
  LogsService,
  type ListenSubscriptionsRequest,
  type LogBrokerServer,
  type LogsServer,
  type PublishLogsMessage,
  type PublishLogsResponse,
  type SubscribeLogsMessage,
  type SubscribeLogsRequest,
  type SubscriptionMessage,
} from "../../proto/gen/logs.js";
import { LEADER_ADDR_METADATA } from "../../proto/metadata.js";
import { NO_LEADER, REDIRECT_METADATA, toGrpcStatus } from "../controlapi/index.js";
import { notLeaderStatus } from "../leader-redirect.js";
import type { LogBroker } from "./broker.js";
import { LogBrokerError, LogBrokerErrorCode } from "./errors.js";

/** What the adapters need of the broker. */
export type LogBrokerApi = Pick<LogBroker, "running" | "subscribe" | "listen" | "publish">;

/** What `identify` is given: any server call (its TLS auth context names the node). */
export type LogBrokerCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>;

interface Leadership {
  /** Whether this manager is the Raft leader now. */
  isLeader(): boolean;
  /** Where the leader serves gRPC (host:port), or null when no leader is known. */
  leaderAddr(): string | null;
}

export interface LogBrokerGrpcOptions extends Leadership {
  /** The calling node, from its verified TLS client certificate; null when there is none. */
  identify(call: LogBrokerCall): { nodeId: string } | null;
}

export interface LogsGrpcOptions extends Leadership {
  /** A client (any service: only its channel is used) to the leader at `addr`, for forwarded calls. */
  leaderClient(addr: string): grpc.Client;
  /** How long a forwarded subscription may wait for the leader to accept it. Default 10 s. */
  acceptTimeoutMs?: number;
}

type Status = Partial<grpc.StatusObject>;

const UNAUTHENTICATED: Status = {
  code: grpc.status.UNAUTHENTICATED,
  details: "no node identity: the LogBroker service needs a node certificate of this cluster",
};

const CODES: Record<LogBrokerErrorCode, grpc.status> = {
  [LogBrokerErrorCode.InvalidArgument]: grpc.status.INVALID_ARGUMENT,
  [LogBrokerErrorCode.NotFound]: grpc.status.NOT_FOUND,
  [LogBrokerErrorCode.PermissionDenied]: grpc.status.PERMISSION_DENIED,
  [LogBrokerErrorCode.Unavailable]: grpc.status.UNAVAILABLE,
};

/** The gRPC status of a broker failure; an UNAVAILABLE one names the leader when this manager does not lead. */
function statusOf(e: unknown, opts: Leadership): Status {
  const status: Status = e instanceof LogBrokerError ? { code: CODES[e.code], details: e.message, metadata: new grpc.Metadata() } : toGrpcStatus(e);
  const leader = opts.isLeader() ? null : opts.leaderAddr();
  if (status.code === grpc.status.UNAVAILABLE && leader) status.metadata!.set(LEADER_ADDR_METADATA, leader);
  return status;
}

/** Why this manager's broker cannot serve an agent now (not the leader, or not started yet), or null. */
function refusal(broker: LogBrokerApi, opts: Leadership): Status | null {
  if (!opts.isLeader()) return notLeaderStatus(opts.leaderAddr());
  if (broker.running) return null;
  const status = notLeaderStatus(opts.leaderAddr());
  return { ...status, details: "not the leader yet: this manager was just elected and its log broker is starting; retry shortly" };
}

/** Resolves once `call` can take more writes (or it was cancelled). */
function drained(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The grpc-js handlers of the LogBroker service (agents). */
export function logBrokerServiceImplementation(broker: LogBrokerApi, opts: LogBrokerGrpcOptions): LogBrokerServer {
  return {
    listenSubscriptions(call: grpc.ServerWritableStream<ListenSubscriptionsRequest, SubscriptionMessage>) {
      const who = opts.identify(call as unknown as LogBrokerCall);
      if (!who) return void call.emit("error", UNAUTHENTICATED);
      const refused = refusal(broker, opts);
      if (refused) return void call.emit("error", refused);
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort());
      call.sendMetadata(new grpc.Metadata()); // accepted: the agent counts it as connected
      broker.listen(who.nodeId, (msg) => void call.write(msg), abort.signal).then(
        () => {
          if (!abort.signal.aborted) call.end();
        },
        (e: unknown) => {
          if (!abort.signal.aborted) call.emit("error", statusOf(e, opts));
        },
      );
    },

    publishLogs(call: grpc.ServerReadableStream<PublishLogsMessage, PublishLogsResponse>, callback: grpc.sendUnaryData<PublishLogsResponse>) {
      const who = opts.identify(call as unknown as LogBrokerCall);
      if (!who) return callback(UNAUTHENTICATED);
      const refused = refusal(broker, opts);
      if (refused) return callback(refused);
      broker.publish(who.nodeId, call as AsyncIterable<PublishLogsMessage>).then(
        () => callback(null, {}),
        (e: unknown) => callback(statusOf(e, opts)),
      );
    },
  };
}

/** The grpc-js handlers of the Logs service (clients): served by the leader, forwarded to it by followers. */
export function logsServiceImplementation(broker: LogBrokerApi, opts: LogsGrpcOptions): LogsServer {
  return {
    subscribeLogs(call: grpc.ServerWritableStream<SubscribeLogsRequest, SubscribeLogsMessage>) {
      if (opts.isLeader()) return void serveSubscription(broker, opts, call);
      const addr = opts.leaderAddr();
      if (call.metadata.get(REDIRECT_METADATA).length > 0 || !addr) {
        const why = addr ? "no leader: this manager was sent the call as the leader but is not the leader (leadership is moving); retry" : NO_LEADER;
        return void call.emit("error", { code: grpc.status.UNAVAILABLE, details: why });
      }
      forwardSubscription(opts.leaderClient(addr), addr, call, opts.acceptTimeoutMs ?? 10_000);
    },
  };
}

async function serveSubscription(
  broker: LogBrokerApi,
  opts: Leadership,
  call: grpc.ServerWritableStream<SubscribeLogsRequest, SubscribeLogsMessage>,
): Promise<void> {
  if (!broker.running) {
    return void call.emit("error", {
      code: grpc.status.UNAVAILABLE,
      details: "not the leader yet: this manager was just elected and its log broker is starting; retry shortly",
    });
  }
  const abort = new AbortController();
  call.on("cancelled", () => abort.abort());
  const send = (msg: SubscribeLogsMessage): Promise<void> | void => {
    if (abort.signal.aborted) return;
    if (!call.write(msg)) return drained(call as grpc.ServerWritableStream<unknown, unknown>, abort.signal);
  };
  try {
    await broker.subscribe(call.request, send, abort.signal, () => call.sendMetadata(new grpc.Metadata()));
    if (!abort.signal.aborted) call.end();
  } catch (e) {
    if (!abort.signal.aborted) call.emit("error", statusOf(e, opts));
  }
}

/** Relays the leader's SubscribeLogs stream to `call`. */
function forwardSubscription(
  client: grpc.Client,
  addr: string,
  call: grpc.ServerWritableStream<SubscribeLogsRequest, SubscribeLogsMessage>,
  acceptTimeoutMs: number,
): void {
  const def = LogsService.subscribeLogs;
  const md = new grpc.Metadata();
  md.set(REDIRECT_METADATA, call.getPeer() || "unknown");
  const upstream = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, call.request, md, {});
  let accepted = false;
  let done = false;
  const finish = (err: Status | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    upstream.cancel();
    if (err) call.emit("error", err);
    else call.end();
  };
  const timer = setTimeout(
    () => finish({ code: grpc.status.UNAVAILABLE, details: `the leader at ${addr} did not accept the subscription within ${acceptTimeoutMs} ms (is a quorum of managers reachable?)` }),
    acceptTimeoutMs,
  );
  upstream.on("metadata", () => {
    accepted = true;
    clearTimeout(timer);
  });
  upstream.on("data", (msg: SubscribeLogsMessage) => {
    if (done) return;
    if (!call.write(msg)) {
      upstream.pause();
      call.once("drain", () => upstream.resume());
    }
  });
  upstream.on("end", () => finish(null));
  upstream.on("error", (err: grpc.ServiceError) => {
    // The leader's answer goes back as is; an unavailable one before it accepted names the leader.
    if (!accepted && err.code === grpc.status.UNAVAILABLE) {
      return finish({ code: grpc.status.UNAVAILABLE, details: `cannot reach the leader at ${addr}: ${err.details}` });
    }
    finish({ code: err.code, details: err.details });
  });
  call.on("cancelled", () => {
    done = true;
    clearTimeout(timer);
    upstream.cancel();
  });
}
