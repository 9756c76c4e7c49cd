// The Control service over gRPC: a thin adapter from grpc-js calls to ControlService. On the leader
// it calls the service and maps StoreError codes to gRPC status codes. On a follower it forwards the
// whole call to the leader and returns the leader's answer (or error) as is; a forwarded call carries
// `swarm-redirect` metadata, and a non-leader that receives one fails it instead of bouncing it on.
// With no leader, or no answer in time, the reply is UNAVAILABLE with the reason: a call never hangs.
import * as grpc from "@grpc/grpc-js";
import {
  ControlClient,
  ControlService as ControlDefinition,
  type ControlServer,
  type WatchMessage,
  type WatchRequest,
} from "../../proto/gen/control.js";
import { StoreError, StoreErrorCode } from "../store/index.js";

/** Metadata key marking a call forwarded by a follower; its value is the original caller's peer address. */
export const REDIRECT_METADATA = "swarm-redirect";
/** Trailer set on every error a control service produced itself, so forwarders tell it from transport failures. */
const ANSWERED_METADATA = "swarm-answered";

/** The reason given when no leader is known. */
export const NO_LEADER = "no leader is elected: is a quorum of managers reachable?";

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

type Definition = typeof ControlDefinition;
type Method = keyof Definition;
/** The unary RPCs (all but Watch). */
export type UnaryMethod = { [K in Method]: Definition[K]["responseStream"] extends false ? K : never }[Method];
type RequestOf<K extends Method> = ReturnType<Definition[K]["requestDeserialize"]>;
type ResponseOf<K extends Method> = ReturnType<Definition[K]["responseDeserialize"]>;

/** What the adapter needs of the service: an async method per unary RPC, and watch. ControlService has them. */
export type ControlApi = { [K in UnaryMethod]: (req: RequestOf<K>) => Promise<ResponseOf<K>> } & {
  watch(req: WatchRequest, signal?: AbortSignal): AsyncIterable<WatchMessage>;
};

export interface ControlAdapterOptions {
  /** Whether this manager is the Raft leader now. */
  isLeader(): boolean;
  /** Where the leader serves gRPC (host:port), or null when no leader is known. */
  leaderAddr(): string | null;
  /** Credentials for calls to the leader (mutual TLS in production). */
  clientCredentials: grpc.ChannelCredentials;
  /**
   * How long a forwarded call (or a Watch's first message) may take, and a call served here. Keep it
   * above Raft's request timeout so the leader's own answer arrives first. Default 10 s.
   */
  requestTimeoutMs?: number;
  channelOptions?: grpc.ChannelOptions;
}

const GRPC_CODES: Record<StoreErrorCode, grpc.status> = {
  [StoreErrorCode.NotFound]: grpc.status.NOT_FOUND,
  [StoreErrorCode.AlreadyExists]: grpc.status.ALREADY_EXISTS,
  [StoreErrorCode.Conflict]: grpc.status.FAILED_PRECONDITION,
  [StoreErrorCode.InvalidArgument]: grpc.status.INVALID_ARGUMENT,
  [StoreErrorCode.Unavailable]: grpc.status.UNAVAILABLE,
};

type Status = { code: grpc.status; details: string; metadata: grpc.Metadata };

function answered(code: grpc.status, details: string): Status {
  const metadata = new grpc.Metadata();
  metadata.set(ANSWERED_METADATA, "1");
  return { code, details, metadata };
}

/** The gRPC status for an error of the control service: StoreError codes map one to one; Raft failures are UNAVAILABLE. */
export function toGrpcStatus(e: unknown): Status {
  if (e instanceof StoreError) return answered(GRPC_CODES[e.code], e.message);
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code.startsWith("RAFT_")) return answered(grpc.status.UNAVAILABLE, message);
  return answered(grpc.status.INTERNAL, `internal error: ${message}`);
}

/** The answer to return for a forwarded call's error: the leader's own as is, a transport failure as UNAVAILABLE with the reason. */
function forwardedError(err: grpc.ServiceError, addr: string, timeoutMs: number): Partial<grpc.StatusObject> {
  if (err.metadata?.get(ANSWERED_METADATA).length > 0) return { code: err.code, details: err.details, metadata: err.metadata };
  if (err.code === grpc.status.DEADLINE_EXCEEDED) {
    return answered(
      grpc.status.UNAVAILABLE,
      `no answer from the leader at ${addr} within ${timeoutMs} ms (is a quorum of managers reachable?); a change may still take effect`,
    );
  }
  if (err.code === grpc.status.UNAVAILABLE) return answered(grpc.status.UNAVAILABLE, `cannot reach the leader at ${addr}: ${err.details}`);
  return { code: err.code, details: err.details };
}

/** Clients to the leader, one per address; the one for a former leader is closed when the leader moves. */
export class LeaderClients {
  private readonly clients = new Map<string, ControlClient>();

  constructor(private readonly opts: Pick<ControlAdapterOptions, "clientCredentials" | "channelOptions">) {}

  get(addr: string): ControlClient {
    let c = this.clients.get(addr);
    if (!c) {
      for (const [a, old] of this.clients) {
        old.close();
        this.clients.delete(a);
      }
      c = new ControlClient(addr, this.opts.clientCredentials, this.opts.channelOptions ?? {});
      this.clients.set(addr, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** Why a non-leader cannot forward `md`'s call, or null when it can (to `addr`). */
function cannotForward(md: grpc.Metadata, addr: string | null): string | null {
  if (md.get(REDIRECT_METADATA).length > 0) {
    return "no leader: this manager was sent the call as the leader but is not the leader (leadership is moving); retry";
  }
  return addr ? null : NO_LEADER;
}

function redirectMetadata(call: { getPeer(): string }): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(REDIRECT_METADATA, call.getPeer() || "unknown");
  return md;
}

/**
 * The grpc-js handlers of the Control service. `clients` holds the channels to the leader; pass
 * your own to close them on shutdown (addControlService does).
 */
export function controlServiceImplementation(
  svc: ControlApi,
  opts: ControlAdapterOptions,
  clients = new LeaderClients(opts),
): ControlServer {
  const timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const handlers: Record<string, grpc.UntypedHandleCall> = {};
  for (const name of Object.keys(ControlDefinition) as Method[]) {
    if (name === "watch") continue;
    handlers[name] = unaryHandler(name as UnaryMethod, svc, opts, clients, timeoutMs);
  }
  handlers["watch"] = watchHandler(svc, opts, clients, timeoutMs);
  return handlers as ControlServer;
}

function unaryHandler(
  name: UnaryMethod,
  svc: ControlApi,
  opts: ControlAdapterOptions,
  clients: LeaderClients,
  timeoutMs: number,
): grpc.handleUnaryCall<unknown, unknown> {
  const def = ControlDefinition[name];
  const serve = svc[name].bind(svc) as (req: unknown) => Promise<unknown>;
  return (call, callback) => {
    let done = false;
    const finish = (err: Partial<grpc.StatusObject> | null, res?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) callback(err);
      else callback(null, res);
    };
    const timer = setTimeout(() => {
      finish(answered(grpc.status.UNAVAILABLE, `the call took longer than ${timeoutMs} ms (is a quorum of managers reachable?); a change may still take effect`));
    }, timeoutMs + (opts.isLeader() ? 0 : 1_000));
    if (opts.isLeader()) {
      serve(call.request).then(
        (res) => finish(null, res),
        (e: unknown) => finish(toGrpcStatus(e)),
      );
      return;
    }
    const addr = opts.leaderAddr();
    const why = cannotForward(call.metadata, addr);
    if (why) return finish(answered(grpc.status.UNAVAILABLE, why));
    const upstream = clients.get(addr!).makeUnaryRequest(
      def.path,
      def.requestSerialize as (v: unknown) => Buffer,
      def.responseDeserialize as (b: Buffer) => unknown,
      call.request,
      redirectMetadata(call),
      { deadline: Date.now() + timeoutMs },
      (err, res) => (err ? finish(forwardedError(err, addr!, timeoutMs)) : finish(null, res)),
    );
    call.on("cancelled", () => upstream.cancel());
  };
}

function watchHandler(
  svc: ControlApi,
  opts: ControlAdapterOptions,
  clients: LeaderClients,
  timeoutMs: number,
): grpc.handleServerStreamingCall<WatchRequest, WatchMessage> {
  return (call) => {
    if (opts.isLeader()) return void serveWatch(svc, call);
    const addr = opts.leaderAddr();
    const why = cannotForward(call.metadata, addr);
    if (why) return void call.emit("error", answered(grpc.status.UNAVAILABLE, why));
    forwardWatch(clients.get(addr!), addr!, call, timeoutMs);
  };
}

async function serveWatch(svc: ControlApi, call: grpc.ServerWritableStream<WatchRequest, WatchMessage>): Promise<void> {
  const abort = new AbortController();
  call.on("cancelled", () => abort.abort());
  try {
    for await (const msg of svc.watch(call.request, abort.signal)) {
      if (abort.signal.aborted) break;
      if (!call.write(msg)) await drained(call, abort.signal);
    }
    if (!abort.signal.aborted) call.end();
  } catch (e) {
    if (!abort.signal.aborted) call.emit("error", toGrpcStatus(e));
  }
}

function drained(call: grpc.ServerWritableStream<WatchRequest, WatchMessage>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    call.once("drain", resolve);
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Relays the leader's Watch stream; fails UNAVAILABLE if the leader's first message does not come in time. */
function forwardWatch(
  client: ControlClient,
  addr: string,
  call: grpc.ServerWritableStream<WatchRequest, WatchMessage>,
  timeoutMs: number,
): void {
  const def = ControlDefinition.watch;
  const upstream = client.makeServerStreamRequest(
    def.path,
    def.requestSerialize,
    def.responseDeserialize,
    call.request,
    redirectMetadata(call),
    {},
  );
  let done = false;
  const finish = (err: Partial<grpc.StatusObject> | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    upstream.cancel();
    if (err) call.emit("error", err);
    else call.end();
  };
  const timer = setTimeout(() => {
    finish(answered(grpc.status.UNAVAILABLE, `no answer from the leader at ${addr} within ${timeoutMs} ms (is a quorum of managers reachable?)`));
  }, timeoutMs);
  upstream.on("data", (msg: WatchMessage) => {
    clearTimeout(timer);
    if (done) return;
    if (!call.write(msg)) {
      upstream.pause();
      call.once("drain", () => upstream.resume());
    }
  });
  upstream.on("end", () => finish(null));
  upstream.on("error", (err: grpc.ServiceError) => finish(forwardedError(err, addr, timeoutMs)));
  call.on("cancelled", () => {
    done = true;
    clearTimeout(timer);
    upstream.cancel();
  });
}

/**
 * Registers the Control service on `server`. Returns the clients it forwards through: close() them
 * when the server shuts down.
 */
export function addControlService(server: grpc.Server, svc: ControlApi, opts: ControlAdapterOptions): LeaderClients {
  const clients = new LeaderClients(opts);
  server.addService(ControlDefinition, controlServiceImplementation(svc, opts, clients));
  return clients;
}
