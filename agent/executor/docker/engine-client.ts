// The only module that talks to the Docker Engine API: the ~12 calls the executor needs, in the
// executor's own types. Request/response calls go through a thin keep-alive HTTP client
// (engine-http.ts; a fresh task's create, start and inspect cost less client CPU than through
// dockerode), streams (pull, events, logs) through dockerode. Nothing else in the executor sees
// either, and tests can fake this interface.
import Docker from "dockerode";
import type { Readable } from "node:stream";
import { EngineHttp } from "./engine-http.js";

/** GET /version, the parts we use. `os` and `arch` are Go names ("linux", "amd64"). */
export interface EngineVersion {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
}

/** GET /info, the parts we use. */
export interface EngineInfo {
  ncpu: number;
  memTotalBytes: number;
  /** Engine labels as the engine reports them: "key=value". */
  labels: string[];
  /** Plugins by type ("Volume", "Network", "Authorization", "Log") and name. */
  plugins: { type: string; name: string }[];
}

/** The `State` of a container inspect, as the engine sends it. */
export interface EngineContainerState {
  Status: string;
  Running: boolean;
  ExitCode: number;
  Error: string;
  OOMKilled: boolean;
  Pid: number;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string } | undefined;
}

/** A container inspect, the parts we use. */
export interface EngineContainer {
  id: string;
  /** Without the leading "/". */
  name: string;
  labels: Record<string, string>;
  state: EngineContainerState;
  /** Whether it has a TTY (its logs are then raw bytes, not multiplexed frames). */
  tty?: boolean;
}

/** One entry of GET /containers/json. */
export interface EngineContainerSummary {
  id: string;
  labels: Record<string, string>;
  state: string;
}

/** The query of GET /containers/{id}/logs (always with timestamps). */
export interface EngineLogsQuery {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  /** "all" or a number of lines. */
  tail: string;
  /** Unix seconds with a fraction ("1700000000.250"); "0" = from the start. */
  since: string;
}

/** One message of GET /events. */
export interface EngineEvent {
  type: string;
  /** "start", "die", "health_status: healthy", … */
  action: string;
  /** The container id for container events. */
  id: string;
  /** For containers: name, image, exitCode (on die) and the container's labels. */
  attributes: Record<string, string>;
  timeNano: number;
}

/** The body of POST /containers/create: the subset of Docker's `ContainerConfig` + `HostConfig` we set. */
export interface ContainerCreateBody {
  Image: string;
  Hostname?: string;
  User?: string;
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  Labels: Record<string, string>;
  Tty?: boolean;
  OpenStdin?: boolean;
  StopSignal?: string;
  /** Seconds. */
  StopTimeout?: number;
  Healthcheck?: {
    Test: string[];
    /** Nanoseconds, as every duration of the Docker API. */
    Interval?: number;
    Timeout?: number;
    Retries?: number;
    StartPeriod?: number;
    StartInterval?: number;
  };
  HostConfig: {
    NetworkMode: string;
    Mounts?: EngineMount[];
    NanoCpus?: number;
    Memory?: number;
    MemoryReservation?: number;
    MemorySwap?: number;
    MemorySwappiness?: number;
    PidsLimit?: number;
    Ulimits?: { Name: string; Soft: number; Hard: number }[];
    Init?: boolean;
    ReadonlyRootfs?: boolean;
    CapAdd?: string[];
    CapDrop?: string[];
    GroupAdd?: string[];
    Sysctls?: Record<string, string>;
    OomScoreAdj?: number;
    ExtraHosts?: string[];
    Dns?: string[];
    DnsSearch?: string[];
    DnsOptions?: string[];
    SecurityOpt?: string[];
    LogConfig?: { Type: string; Config: Record<string, string> };
    RestartPolicy: { Name: string };
  };
}

/** One entry of `HostConfig.Mounts`. */
export interface EngineMount {
  Type: "bind" | "volume" | "tmpfs" | "npipe";
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: {
    Propagation?: string;
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
    ReadOnlyNonRecursive?: boolean;
    ReadOnlyForceRecursive?: boolean;
  };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: { Name: string; Options: Record<string, string> };
    Subpath?: string;
  };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] };
}

/** A request the engine refused or failed: its HTTP status and its own message. */
export class EngineApiError extends Error {
  override readonly name = "EngineApiError";
  constructor(
    /** The HTTP status; undefined when the engine could not be reached. */
    readonly status: number | undefined,
    /** The engine's message ("No such container: x", "OCI runtime create failed: …"). */
    readonly engineMessage: string,
    options?: { cause?: unknown },
  ) {
    super(engineMessage, options);
  }
}

/** What the executor asks of the engine. Every method rejects with an {@link EngineApiError}. */
export interface EngineClient {
  version(): Promise<EngineVersion>;
  info(): Promise<EngineInfo>;
  /** Pulls the image; rejects with the engine's reason (the progress output is dropped). */
  pullImage(ref: string, opts: { registryAuth?: string; signal?: AbortSignal }): Promise<void>;
  /** Creates a container; answers its id. */
  createContainer(name: string, body: ContainerCreateBody): Promise<string>;
  /** Starts a container; already running is not an error. */
  startContainer(id: string): Promise<void>;
  /** Stop signal, then SIGKILL after `timeoutSeconds`; already stopped or gone is not an error. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  /** Removes a container (forcibly, with its anonymous volumes); already gone is not an error. */
  removeContainer(id: string): Promise<void>;
  /** Inspects a container by id or name; null when there is none. */
  inspectContainer(idOrName: string): Promise<EngineContainer | null>;
  /** All containers (running or not) that carry every one of the labels ("key=value"). */
  listContainers(labels: string[]): Promise<EngineContainerSummary[]>;
  /**
   * Opens GET /events with the given filters. Resolves once the engine has answered (from then on no
   * event is missed); `onEvent` gets each event, `onEnd` is called once when the stream ends or breaks.
   */
  events(filters: Record<string, string[]>, onEvent: (e: EngineEvent) => void, onEnd: (err?: Error) => void, signal: AbortSignal): Promise<void>;
  /** Opens GET /containers/{id}/logs with timestamps: the raw body (frames unless the container has a TTY). */
  containerLogs(id: string, query: EngineLogsQuery, signal: AbortSignal): Promise<Readable>;
}

/** The Engine API over its unix socket: plain calls through EngineHttp, streams through dockerode. */
export class SocketEngineClient implements EngineClient {
  private readonly docker: Docker;
  private readonly http: EngineHttp;

  constructor(socketPath: string) {
    this.docker = new Docker({ socketPath });
    this.http = new EngineHttp(socketPath);
  }

  /** `method path` answered with one of the `ok` statuses: its JSON body; else the engine's refusal. */
  private async json(method: string, path: string, ok: readonly number[], body?: unknown): Promise<unknown> {
    let a;
    try {
      a = await this.http.request(method, path, body);
    } catch (e) {
      throw new EngineApiError(undefined, e instanceof Error ? e.message : String(e), { cause: e });
    }
    if (ok.includes(a.status)) return a.json;
    const message = (a.json as { message?: unknown } | null)?.message;
    throw new EngineApiError(a.status, (typeof message === "string" ? message : a.text || `HTTP ${a.status}`).trim());
  }

  async version(): Promise<EngineVersion> {
    const v = (await this.json("GET", "/version", [200])) as Record<string, string>;
    return { version: v["Version"] ?? "", apiVersion: v["ApiVersion"] ?? "", os: v["Os"] ?? "", arch: v["Arch"] ?? "" };
  }

  async info(): Promise<EngineInfo> {
    const i = (await this.json("GET", "/info", [200])) as {
      NCPU?: number;
      MemTotal?: number;
      Labels?: string[] | null;
      Plugins?: Record<string, string[] | null> | null;
    };
    const plugins: { type: string; name: string }[] = [];
    for (const [type, names] of Object.entries(i.Plugins ?? {})) for (const name of names ?? []) plugins.push({ type, name });
    return { ncpu: i.NCPU ?? 0, memTotalBytes: i.MemTotal ?? 0, labels: i.Labels ?? [], plugins };
  }

  async pullImage(ref: string, opts: { registryAuth?: string; signal?: AbortSignal }): Promise<void> {
    const { repository, tag } = splitReference(ref);
    const query: Record<string, unknown> = { fromImage: repository, tag };
    if (opts.signal) query["abortSignal"] = opts.signal;
    const auth = opts.registryAuth ? { base64: opts.registryAuth } : undefined;
    const stream = (await call(() => this.docker.createImage(auth, query))) as Readable;
    // The pull reports failures inside a 200 stream: {"error": "...", "errorDetail": {...}}.
    let failure: string | undefined;
    await readJsonLines(stream, (msg) => {
      const m = msg as { error?: string; errorDetail?: { message?: string } };
      if (m.error || m.errorDetail?.message) failure ??= m.errorDetail?.message || m.error;
    });
    if (failure !== undefined) throw new EngineApiError(200, failure);
  }

  async createContainer(name: string, body: ContainerCreateBody): Promise<string> {
    const c = (await this.json("POST", `/containers/create?name=${encodeURIComponent(name)}`, [201], body)) as { Id: string };
    return c.Id;
  }

  async startContainer(id: string): Promise<void> {
    await this.json("POST", `/containers/${encodeURIComponent(id)}/start`, [204, 304]);
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.json("POST", `/containers/${encodeURIComponent(id)}/stop?t=${timeoutSeconds}`, [204, 304, 404]);
  }

  async removeContainer(id: string): Promise<void> {
    await this.json("DELETE", `/containers/${encodeURIComponent(id)}?force=1&v=1`, [204, 404]);
  }

  async inspectContainer(idOrName: string): Promise<EngineContainer | null> {
    const c = (await this.json("GET", `/containers/${encodeURIComponent(idOrName)}/json`, [200, 404])) as {
      Id?: string;
      Name?: string;
      State?: EngineContainerState;
      Config?: { Labels?: Record<string, string> | null; Tty?: boolean } | null;
    } | null;
    if (!c?.Id || !c.State) return null; // 404: no such container
    return { id: c.Id, name: (c.Name ?? "").replace(/^\//, ""), labels: c.Config?.Labels ?? {}, state: c.State, tty: c.Config?.Tty === true };
  }

  async listContainers(labels: string[]): Promise<EngineContainerSummary[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: labels }));
    const list = (await this.json("GET", `/containers/json?all=1&filters=${filters}`, [200])) as { Id: string; Labels?: Record<string, string> | null; State: string }[];
    return list.map((c) => ({ id: c.Id, labels: c.Labels ?? {}, state: c.State }));
  }

  async events(filters: Record<string, string[]>, onEvent: (e: EngineEvent) => void, onEnd: (err?: Error) => void, signal: AbortSignal): Promise<void> {
    const stream = (await call(() => this.docker.getEvents({ filters, abortSignal: signal } as Docker.GetEventsOptions))) as unknown as Readable;
    readJsonLines(stream, (msg) => {
      const m = msg as { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; timeNano?: number };
      onEvent({ type: m.Type ?? "", action: m.Action ?? "", id: m.Actor?.ID ?? "", attributes: m.Actor?.Attributes ?? {}, timeNano: m.timeNano ?? 0 });
    }).then(
      () => onEnd(),
      (e: unknown) => onEnd(e instanceof Error ? e : new Error(String(e))),
    );
  }

  async containerLogs(id: string, query: EngineLogsQuery, signal: AbortSignal): Promise<Readable> {
    // dockerode buffers the whole body unless it follows; dial as a stream either way.
    const opts = {
      path: `/containers/${encodeURIComponent(id)}/logs?`,
      method: "GET",
      isStream: true,
      abortSignal: signal,
      statusCodes: { 200: true, 404: "no such container", 500: "server error" },
      options: { ...query, timestamps: true },
    };
    return call(
      () =>
        new Promise<Readable>((resolve, reject) =>
          this.docker.modem.dial(opts, (err: unknown, body: unknown) => (err ? reject(err) : resolve(body as Readable))),
        ),
    );
  }
}

/** "repo/name:tag" → repository and tag; a digest reference keeps its digest as the tag; no tag = latest. */
export function splitReference(ref: string): { repository: string; tag: string } {
  const at = ref.indexOf("@");
  if (at >= 0) return { repository: ref.slice(0, at), tag: ref.slice(at + 1) };
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  if (colon > slash) return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repository: ref, tag: "latest" };
}

/** The engine's own message from a dockerode/docker-modem error ("(HTTP code 404) no such container - No such …"). */
export function engineErrorOf(e: unknown): EngineApiError {
  if (e instanceof EngineApiError) return e;
  const err = e as { statusCode?: number; json?: unknown; message?: string; code?: string } | undefined;
  const json = err?.json as { message?: string } | null | undefined;
  let message = typeof json?.message === "string" ? json.message : undefined;
  if (message === undefined && typeof err?.message === "string") {
    const m = /^\(HTTP code \d+\) [^-]*- ([\s\S]*?)\s*$/.exec(err.message);
    message = m?.[1] || err.message;
  }
  return new EngineApiError(typeof err?.statusCode === "number" ? err.statusCode : undefined, (message ?? String(e)).trim(), { cause: e });
}

/** Whether `e` is an abort (an AbortSignal fired). */
export function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === "AbortError" || (e as { code?: string }).code === "ABORT_ERR");
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isAbort(e)) throw e;
    throw engineErrorOf(e);
  }
}

/** Calls `onMessage` with each JSON value of a newline-delimited stream; resolves at its end. */
export function readJsonLines(stream: Readable, onMessage: (msg: unknown) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const splitter = jsonLineSplitter(onMessage);
    stream.on("data", (chunk: Buffer | string) => splitter.push(chunk.toString()));
    stream.once("end", () => {
      splitter.end();
      resolve();
    });
    stream.once("error", reject);
    stream.once("close", () => resolve());
  });
}

/** A push parser of newline-delimited JSON (what /events and /images/create send); bad lines are skipped. */
export function jsonLineSplitter(onMessage: (msg: unknown) => void): { push(text: string): void; end(): void } {
  let buf = "";
  const emit = (line: string): void => {
    if (line.trim() === "") return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    onMessage(msg);
  };
  return {
    push(text) {
      buf += text;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        emit(line);
      }
    },
    end() {
      emit(buf);
      buf = "";
    },
  };
}
