// The Dispatcher service over gRPC: a thin adapter from grpc-js calls to Dispatcher. Only the leader
// serves it. A follower, or a leader whose dispatcher has not started yet, answers UNAVAILABLE and
// names the leader in `swarm-leader-addr` trailing metadata, so the agent reconnects there directly
// (no forwarding hop: a session is long-lived and its heartbeats must reach the leader on time).
// The caller's node id comes from its verified TLS certificate (`identify`), never from the request.
// Assignments is a server stream like Session; UpdateTaskStatus answers once the statuses are committed.
import * as grpc from "@grpc/grpc-js";
import type {
  AssignmentsMessage,
  AssignmentsRequest,
  DispatcherServer,
  HeartbeatRequest,
  HeartbeatResponse,
  SessionMessage,
  SessionRequest,
  UpdateTaskStatusRequest,
  UpdateTaskStatusResponse,
} from "../../proto/gen/dispatcher.js";
import { LEADER_ADDR_METADATA } from "../../proto/metadata.js";
import { toGrpcStatus } from "../controlapi/index.js";
import { notLeaderStatus } from "../leader-redirect.js";
import type { Dispatcher } from "./dispatcher.js";
import { DispatcherError, DispatcherErrorCode } from "./errors.js";

/** What `identify` is given: a unary or server-streaming call (metadata, peer, TLS auth context). */
export type DispatcherCall = grpc.ServerUnaryCall<unknown, unknown>;

export interface DispatcherGrpcOptions {
  /** The calling node, from its verified TLS client certificate; null when there is none. */
  identify(call: DispatcherCall): { nodeId: string } | null;
  /** Whether this manager is the Raft leader now. */
  isLeader(): boolean;
  /** Where the leader serves gRPC (host:port), or null when no leader is known. */
  leaderAddr(): string | null;
}

/** What the adapter needs of the dispatcher. */
export type DispatcherApi = Pick<Dispatcher, "running" | "session" | "heartbeat" | "assignments" | "updateTaskStatus">;

type Status = Partial<grpc.StatusObject>;

const UNAUTHENTICATED: Status = {
  code: grpc.status.UNAUTHENTICATED,
  details: "no node identity: the Dispatcher service needs a node certificate of this cluster",
};

/** Why this manager cannot serve the call (not the leader, or its dispatcher is not running), or null. */
function refusal(dispatcher: DispatcherApi, opts: DispatcherGrpcOptions): Status | null {
  if (!opts.isLeader()) return notLeaderStatus(opts.leaderAddr());
  if (dispatcher.running) return null;
  // Just elected: leader components start after the deposed leader's window. Come back here.
  const status = notLeaderStatus(opts.leaderAddr());
  return { ...status, details: "not the leader yet: this manager was just elected and its dispatcher is starting; retry shortly" };
}

/** The gRPC status for a dispatcher error; an UNAVAILABLE one names the new leader when this manager no longer leads. */
function statusOf(e: unknown, opts: DispatcherGrpcOptions): Status {
  if (e instanceof DispatcherError) {
    return { code: DISPATCHER_CODES[e.code], details: e.message, metadata: new grpc.Metadata() };
  }
  const status = toGrpcStatus(e);
  const leader = opts.isLeader() ? null : opts.leaderAddr();
  if (status.code === grpc.status.UNAVAILABLE && leader) status.metadata.set(LEADER_ADDR_METADATA, leader);
  return status;
}

const DISPATCHER_CODES: Record<DispatcherErrorCode, grpc.status> = {
  [DispatcherErrorCode.PermissionDenied]: grpc.status.PERMISSION_DENIED,
};

/** The grpc-js handlers of the Dispatcher service. */
export function dispatcherServiceImplementation(dispatcher: DispatcherApi, opts: DispatcherGrpcOptions): DispatcherServer {
  return {
    session(call: grpc.ServerWritableStream<SessionRequest, SessionMessage>) {
      const who = opts.identify(call);
      if (!who) return void call.emit("error", UNAUTHENTICATED);
      const refused = refusal(dispatcher, opts);
      if (refused) return void call.emit("error", refused);
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort());
      dispatcher
        .session(who.nodeId, call.getPeer(), call.request, (msg) => void call.write(msg), abort.signal)
        .then(
          () => {
            if (!abort.signal.aborted) call.end();
          },
          (e: unknown) => {
            if (!abort.signal.aborted) call.emit("error", statusOf(e, opts));
          },
        );
    },

    heartbeat(call: grpc.ServerUnaryCall<HeartbeatRequest, HeartbeatResponse>, callback: grpc.sendUnaryData<HeartbeatResponse>) {
      const who = opts.identify(call);
      if (!who) return callback(UNAUTHENTICATED);
      const refused = refusal(dispatcher, opts);
      if (refused) return callback(refused);
      try {
        callback(null, dispatcher.heartbeat(who.nodeId, call.request.sessionId));
      } catch (e) {
        callback(statusOf(e, opts));
      }
    },

    assignments(call: grpc.ServerWritableStream<AssignmentsRequest, AssignmentsMessage>) {
      const who = opts.identify(call);
      if (!who) return void call.emit("error", UNAUTHENTICATED);
      const refused = refusal(dispatcher, opts);
      if (refused) return void call.emit("error", refused);
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort());
      dispatcher.assignments(who.nodeId, call.request.sessionId, (msg) => void call.write(msg), abort.signal).then(
        () => {
          if (!abort.signal.aborted) call.end();
        },
        (e: unknown) => {
          if (!abort.signal.aborted) call.emit("error", statusOf(e, opts));
        },
      );
    },

    updateTaskStatus(
      call: grpc.ServerUnaryCall<UpdateTaskStatusRequest, UpdateTaskStatusResponse>,
      callback: grpc.sendUnaryData<UpdateTaskStatusResponse>,
    ) {
      const who = opts.identify(call);
      if (!who) return callback(UNAUTHENTICATED);
      const refused = refusal(dispatcher, opts);
      if (refused) return callback(refused);
      dispatcher.updateTaskStatus(who.nodeId, call.request.sessionId, call.request.updates).then(
        () => callback(null, {}),
        (e: unknown) => callback(statusOf(e, opts)),
      );
    },
  };
}
