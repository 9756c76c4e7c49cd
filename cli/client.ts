// The connection to swarmd's local socket: one gRPC channel carrying the Daemon, Control and Logs
// services, each unary method as a promise, server streams as async iterables, and the one place
// gRPC failures become the one-line messages the user sees.
import * as grpc from "@grpc/grpc-js";
import { ControlService } from "../proto/gen/control.js";
import { DaemonService } from "../proto/gen/daemon.js";
import { ConnectError, CliError, RpcError } from "./errors.js";

/** Where swarmd listens unless -H or SWARM_HOST says otherwise. */
export const DEFAULT_HOST = "unix:///var/run/swarmd.sock";

/** The promise form of a service definition's unary methods: `(request) => Promise<response>`. */
export type UnaryApi<D> = {
  readonly [K in keyof D as D[K] extends { requestStream: false; responseStream: false } ? K : never]: D[K] extends {
    requestSerialize: (value: infer Req) => Buffer;
    responseDeserialize: (value: Buffer) => infer Res;
  }
    ? (request: Req) => Promise<Res>
    : never;
};

/** swarmd's Daemon service: init, join, leave, unlock, info. */
export type DaemonApi = UnaryApi<typeof DaemonService>;
/** The cluster's Control service, as served on the local socket of a manager. */
export type ControlApi = UnaryApi<typeof ControlService>;

/** How to reach swarmd and how long to wait. */
export interface ConnectOptions {
  /** `unix:///path/to.sock` (or an absolute socket path). */
  host: string;
  /** How long to wait for the socket to accept the connection. */
  connectTimeoutMs: number;
  /** Deadline of each call. */
  callTimeoutMs: number;
}

/** A connection to swarmd. */
export interface Swarmd {
  readonly host: string;
  readonly daemon: DaemonApi;
  readonly control: ControlApi;
  /** The raw client, for streaming calls (see `serverStream`). */
  readonly client: grpc.Client;
  /** Deadline of each call that is not meant to run forever. */
  readonly callTimeoutMs: number;
  close(): void;
}

/** The gRPC target of a -H value; only unix sockets are served by swarmd. */
export function grpcTarget(host: string): string {
  if (host.startsWith("unix://") && host.length > "unix://".length) return host;
  if (host.startsWith("/")) return `unix://${host}`;
  throw new CliError(`invalid --host "${host}": must be unix:///path/to/swarmd.sock`);
}

/** Opens the channel and waits until swarmd accepts it; fails fast when nothing listens. */
export async function connect(opts: ConnectOptions): Promise<Swarmd> {
  const client = new grpc.Client(grpcTarget(opts.host), grpc.credentials.createInsecure());
  try {
    await waitConnected(client, opts);
  } catch (e) {
    client.close();
    throw e;
  }
  return {
    host: opts.host,
    daemon: unaryApi(client, DaemonService, opts) as DaemonApi,
    control: unaryApi(client, ControlService, opts) as ControlApi,
    client,
    callTimeoutMs: opts.callTimeoutMs,
    close: () => client.close(),
  };
}

function waitConnected(client: grpc.Client, opts: ConnectOptions): Promise<void> {
  const channel = client.getChannel();
  const deadline = Date.now() + opts.connectTimeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return resolve();
      if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) {
        return reject(new ConnectError(opts.host));
      }
      channel.watchConnectivityState(state, deadline, (err) => (err ? reject(new ConnectError(opts.host, { cause: err })) : check()));
    };
    check();
  });
}

interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: never) => Buffer;
  responseDeserialize: (value: Buffer) => unknown;
}

function unaryApi(client: grpc.Client, service: Record<string, MethodDefinition>, opts: ConnectOptions): Record<string, unknown> {
  const api: Record<string, (req: unknown) => Promise<unknown>> = {};
  for (const [name, def] of Object.entries(service)) {
    if (def.requestStream || def.responseStream) continue;
    api[name] = (req) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          def.path,
          def.requestSerialize as (value: unknown) => Buffer,
          def.responseDeserialize,
          req,
          new grpc.Metadata(),
          { deadline: Date.now() + opts.callTimeoutMs },
          (err, res) => (err ? reject(rpcError(err, opts.host, def.path)) : resolve(res)),
        );
      });
  }
  return api;
}

/** A server-streaming method of a generated service definition (`LogsService.subscribeLogs`). */
export interface ServerStreamMethod<Req, Res> {
  readonly path: string;
  readonly requestStream: false;
  readonly responseStream: true;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (value: Buffer) => Res;
}

/**
 * Calls a server-streaming method over swarmd's channel and yields its messages; a failed call
 * throws the CLI's error. An `endless` call (`logs --follow`) has no deadline.
 */
export async function* serverStream<Req, Res>(
  s: Swarmd,
  method: ServerStreamMethod<Req, Res>,
  request: Req,
  opts: { endless?: boolean } = {},
): AsyncGenerator<Res> {
  const call = s.client.makeServerStreamRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    request,
    new grpc.Metadata(),
    opts.endless ? {} : { deadline: Date.now() + s.callTimeoutMs },
  );
  try {
    for await (const message of call) yield message as Res;
  } catch (e) {
    if (e instanceof Error && typeof (e as Partial<grpc.ServiceError>).code === "number") throw rpcError(e as grpc.ServiceError, s.host, method.path);
    throw e;
  } finally {
    call.cancel();
  }
}

/** Details of an UNAVAILABLE that mean the socket never answered (not a manager-side UNAVAILABLE). */
const NO_CONNECTION = /No connection established|connect E[A-Z]+|Failed to connect/;

/** The one place a gRPC failure becomes the message the user reads. */
export function rpcError(err: grpc.ServiceError, host: string, method: string): CliError {
  const details = err.details ?? "";
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      if (NO_CONNECTION.test(details)) return new ConnectError(host, { cause: err });
      break;
    case grpc.status.DEADLINE_EXCEEDED:
      return new RpcError(err.code, `swarmd at ${host} did not answer in time (${method})`, { cause: err });
    case grpc.status.UNIMPLEMENTED:
      return new RpcError(err.code, `swarmd at ${host} does not implement ${method}: is it an older version?`, { cause: err });
    case grpc.status.CANCELLED:
      return new RpcError(err.code, `the call to swarmd was cancelled (${method})`, { cause: err });
  }
  return new RpcError(err.code, details || `${grpc.status[err.code] ?? "UNKNOWN"} from swarmd (${method})`, { cause: err });
}

/** Whether `e` is swarmd answering NOT_FOUND. */
export function isNotFound(e: unknown): boolean {
  return e instanceof RpcError && e.code === grpc.status.NOT_FOUND;
}
