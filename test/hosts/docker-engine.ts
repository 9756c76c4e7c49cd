// A private Docker engine for tests: a dockerd with all its state under one temp dir (data-root, exec-root,
// pidfile, unix socket, config file), no bridge, no iptables, started in a test host's network namespace
// (nsenter --net) or in the root namespace. `stop()` kills its containers through the API, stops dockerd
// by PID, kills by PID whatever of it is left (containerd, shims, container processes), unmounts what is
// left under its dir and removes the dir. Also builds and imports the busybox test images (no registry is
// reachable here). See README.md.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync, copyFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { pidIsRunning, registerProcess, tool, unregisterProcess, type TrackedProcess } from "./cleanup.js";
import type { TestHost, TestNetwork } from "./network.js";
import { waitFor } from "./poll.js";

/** The plain busybox image: `sh` as its command. */
export const TEST_IMAGE = "swarm-test/busybox:latest";
/** The same rootfs with a health check that always fails (every 1 s, unhealthy after 2 failures). */
export const UNHEALTHY_TEST_IMAGE = "swarm-test/busybox-unhealthy:latest";

export interface DockerEngineOptions {
  /** Give up waiting for /_ping after this long (default 30 s). */
  startTimeoutMs?: number;
  /** Engine labels (`--label k=v`). */
  labels?: Record<string, string>;
  /** More dockerd flags. */
  extraArgs?: string[];
}

const DIR_PREFIX = "swarm-dockerd-";
const DIR_RE = new RegExp(`^${DIR_PREFIX}(\\d+)-`);
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export class DockerEngine {
  /** The engine's API socket (`unix://` not included). */
  readonly socketPath: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly logFile: string;
  private stopping: Promise<void> | null = null;
  private readonly exited: Promise<void>;
  private readonly tracker: TrackedProcess;

  private constructor(
    /** Everything of this engine lives under this dir (removed by stop). */
    readonly dir: string,
    readonly host: TestHost | null,
    private readonly child: ChildProcess,
  ) {
    this.socketPath = path.join(dir, "docker.sock");
    this.dataRoot = path.join(dir, "data");
    this.execRoot = path.join(dir, "exec");
    this.logFile = path.join(dir, "dockerd.log");
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      child.once("exit", () => resolve());
      child.once("error", () => resolve());
    });
    this.tracker = {
      pid: child.pid,
      netns: host?.netns ?? "",
      kill9Sync: () => this.kill9Sync(),
      stop: () => this.stop(),
    };
    registerProcess(this.tracker);
  }

  /**
   * Starts a dockerd inside `host` (or in the root namespace when `host` is null), installing docker.io
   * first when dockerd is missing; resolves once it answers /_ping.
   */
  static async start(net: TestNetwork | null, host: TestHost | null, opts: DockerEngineOptions = {}): Promise<DockerEngine> {
    if ((net === null) !== (host === null)) throw new Error("DockerEngine.start: give both a network and a host, or neither");
    ensureDockerInstalled();
    // Installing docker.io brings iptables; a dockerd in the root namespace may have set FORWARD to DROP.
    net?.refreshForwarding();
    sweepStaleEngines();
    const dir = mkdtempSync(path.join(os.tmpdir(), `${DIR_PREFIX}${process.pid}-`));
    for (const d of ["data", "exec"]) mkdirSync(path.join(dir, d));
    writeFileSync(path.join(dir, "daemon.json"), "{}\n");
    const argv = [
      tool("dockerd")!,
      `--config-file=${dir}/daemon.json`,
      `--data-root=${dir}/data`,
      `--exec-root=${dir}/exec`,
      `--pidfile=${dir}/docker.pid`,
      `--host=unix://${dir}/docker.sock`,
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
      "--ip-forward=false",
      "--ip-masq=false",
      "--userland-proxy=false",
      "--shutdown-timeout=2",
      ...Object.entries(opts.labels ?? {}).map(([k, v]) => `--label=${k}=${v}`),
      ...(opts.extraArgs ?? []),
    ];
    const log = openSync(path.join(dir, "dockerd.log"), "a");
    const env = { ...process.env, PATH: `${process.env["PATH"] ?? ""}:${SYSTEM_PATH}` };
    let child: ChildProcess;
    try {
      child = host ? net!.spawn(host, argv, { env, stdio: ["ignore", log, log] }) : spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", log, log] });
    } finally {
      closeSync(log);
    }
    const engine = new DockerEngine(dir, host, child);
    try {
      const exitedEarly = engine.exited.then(() => {
        throw new Error(`dockerd exited before answering /_ping\n${engine.logTail()}`);
      });
      await Promise.race([
        exitedEarly,
        waitFor(async () => (await engineRequest(engine.socketPath, "GET", "/_ping", { timeoutMs: 2000 })).status === 200, {
          timeoutMs: opts.startTimeoutMs ?? 30_000,
          what: `dockerd in ${host?.name ?? "the root namespace"} to answer /_ping`,
        }),
      ]).catch((e: unknown) => {
        throw e instanceof Error && !e.message.includes("dockerd.log") ? new Error(`${e.message}\n${engine.logTail()}`) : e;
      });
      exitedEarly.catch(() => {});
      return engine;
    } catch (e) {
      await engine.stop().catch(() => {});
      throw e;
    }
  }

  /** dockerd's PID. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last `n` lines of dockerd's log, headed by where it ran, for failure messages. */
  logTail(n = 40): string {
    let lines: string[] = [];
    try {
      lines = readFileSync(this.logFile, "utf8").trimEnd().split("\n");
    } catch {
      // no log yet
    }
    return [`--- dockerd in ${this.host?.name ?? "root namespace"} (${this.dir}/dockerd.log), last ${Math.min(n, lines.length)} lines:`, ...lines.slice(-n)].join("\n");
  }

  /**
   * Kills its containers (through the API), stops dockerd (SIGTERM, SIGKILL after 10 s), kills by PID what
   * is left of it, unmounts what is left under its dir and removes the dir. Idempotent; throws only if a
   * mount or a process of it is still there afterwards.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.running) {
      await killAllContainers(this.socketPath).catch(() => {});
      this.signal("SIGTERM");
      const gone = await Promise.race([this.exited.then(() => true), delay(10_000).then(() => false)]);
      if (!gone) this.signal("SIGKILL");
      await this.exited;
    }
    // containerd, shims and container processes: they outlive dockerd when it is killed.
    killTreeSync(this.dir);
    await waitFor(() => processesReferencing(this.dir).length === 0, { timeoutMs: 10_000, what: `the processes of ${this.dir} to exit` }).catch(() => {});
    const left = processesReferencing(this.dir);
    unmountUnderSync(this.dir);
    const mounts = mountsUnder(this.dir);
    if (mounts.length === 0) rmSync(this.dir, { recursive: true, force: true });
    unregisterProcess(this.tracker);
    if (left.length > 0 || mounts.length > 0) {
      throw new Error(`docker engine ${this.dir}: left ${left.length} processes (${left.join(", ")}) and ${mounts.length} mounts (${mounts.join(", ")})`);
    }
  }

  /** At exit: SIGKILL dockerd and everything of it, by PID; unmount; remove the dir. */
  private kill9Sync(): void {
    cleanEngineDirSync(this.dir);
  }

  private get running(): boolean {
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      this.child.kill(sig);
    } catch {
      // already gone
    }
  }
}

// ---------- installing what the engine and the images need ----------

/** Installs Debian's docker.io when `dockerd` is missing; answers whether it installed it. */
export function ensureDockerInstalled(): boolean {
  if (tool("dockerd")) return false;
  aptInstall(["docker.io"]);
  if (!tool("dockerd")) throw new Error("apt-get installed docker.io but there is no dockerd");
  return true;
}

/**
 * `apt-get install -y PKGS` (an `apt-get update` first when the install fails for want of package lists).
 * Package scripts may not start services: a system dockerd would set iptables FORWARD to DROP, so when the
 * machine has no /usr/sbin/policy-rc.d one that denies starts is put there for the install only.
 */
export function aptInstall(pkgs: string[]): void {
  const apt = tool("apt-get");
  if (!apt) throw new Error(`cannot install ${pkgs.join(" ")}: no apt-get`);
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) {
    writeFileSync(policy, "#!/bin/sh\n# swarm test harness: no service starts during its apt-get install\nexit 101\n");
    chmodSync(policy, 0o755);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive", PATH: `${process.env["PATH"] ?? ""}:${SYSTEM_PATH}` };
  const install = (): void => {
    execFileSync(apt, ["install", "-y", "--no-install-recommends", ...pkgs], { env, stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
  };
  try {
    try {
      install();
    } catch {
      execFileSync(apt, ["update"], { env, stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
      install();
    }
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`apt-get install ${pkgs.join(" ")} failed: ${err.stderr?.toString().trim() || err.message}`, { cause: e });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

// ---------- test images ----------

/** Bump when the rootfs recipe changes (the tarball cache is keyed by it and by busybox's bytes). */
const ROOTFS_RECIPE = "v1";
const PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP = "root:x:0:\nnobody:x:65534:\nnogroup:x:65534:\n";
const imported = new Set<string>();

/**
 * Makes sure the engine at `socketPath` has {@link TEST_IMAGE} and {@link UNHEALTHY_TEST_IMAGE}: builds the
 * busybox rootfs tarball once (cached under the OS temp dir, keyed by a content hash) and imports it.
 */
export async function ensureTestImages(socketPath: string): Promise<void> {
  if (imported.has(socketPath)) return;
  const images: { ref: string; changes: string[] }[] = [
    { ref: TEST_IMAGE, changes: ['CMD ["sh"]'] },
    { ref: UNHEALTHY_TEST_IMAGE, changes: ['CMD ["sh"]', "HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD false"] },
  ];
  let tarball: string | undefined;
  for (const { ref, changes } of images) {
    if ((await engineRequest(socketPath, "GET", `/images/${ref}/json`)).status === 200) continue;
    tarball ??= busyboxRootfsTarball();
    const [repo, tag] = ref.split(":") as [string, string];
    const q = new URLSearchParams({ fromSrc: "-", repo, tag });
    for (const c of changes) q.append("changes", c);
    const res = await engineRequest(socketPath, "POST", `/images/create?${q}`, { bodyFile: tarball, contentType: "application/x-tar", timeoutMs: 60_000 });
    const text = res.body.toString("utf8");
    const failure = /"error":\s*"((?:[^"\\]|\\.)*)"/.exec(text);
    if (res.status !== 200 || failure) throw new Error(`importing ${ref} failed (HTTP ${res.status}): ${failure?.[1] ?? text.trim()}`);
  }
  imported.add(socketPath);
}

/** The path of the busybox rootfs tarball, built when the cache has none for this busybox and recipe. */
export function busyboxRootfsTarball(): string {
  const busybox = ensureStaticBusybox();
  const hash = createHash("sha256").update(readFileSync(busybox)).update(ROOTFS_RECIPE).update(PASSWD).update(GROUP).digest("hex").slice(0, 16);
  const cacheDir = path.join(os.tmpdir(), "swarm-test-images");
  const tarball = path.join(cacheDir, `busybox-rootfs-${hash}.tar`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(path.join(cacheDir, "build-"));
  try {
    const root = path.join(work, "rootfs");
    for (const d of ["bin", "etc", "tmp", "root", "proc", "sys", "dev"]) mkdirSync(path.join(root, d), { recursive: true });
    chmodSync(path.join(root, "tmp"), 0o1777);
    copyFileSync(busybox, path.join(root, "bin", "busybox"));
    chmodSync(path.join(root, "bin", "busybox"), 0o755);
    execFileSync(tool("chroot") ?? "/usr/sbin/chroot", [root, "/bin/busybox", "--install", "-s", "/bin"], { stdio: ["ignore", "pipe", "pipe"] });
    writeFileSync(path.join(root, "etc", "passwd"), PASSWD);
    writeFileSync(path.join(root, "etc", "group"), GROUP);
    const tmpTar = path.join(work, "rootfs.tar");
    execFileSync("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", tmpTar, "."], { stdio: ["ignore", "pipe", "pipe"] });
    renameSync(tmpTar, tarball); // atomic: a concurrent run sees the whole file or none
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return tarball;
}

/** The path of Debian's static busybox, installing busybox-static when it is missing. */
function ensureStaticBusybox(): string {
  const status = (() => {
    try {
      return execFileSync("dpkg-query", ["-W", "-f=${Status}", "busybox-static"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch {
      return "";
    }
  })();
  if (!status.includes("install ok installed")) aptInstall(["busybox-static"]);
  if (!existsSync("/bin/busybox")) throw new Error("busybox-static is installed but /bin/busybox is missing");
  return "/bin/busybox";
}

// ---------- the Engine API, minimally ----------

export interface EngineResponse {
  status: number;
  body: Buffer;
}

/** One request to an engine's unix socket; rejects only when the socket does not answer. */
export function engineRequest(
  socketPath: string,
  method: string,
  urlPath: string,
  opts: { json?: unknown; bodyFile?: string; contentType?: string; timeoutMs?: number } = {},
): Promise<EngineResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    let payload: string | undefined;
    if (opts.json !== undefined) {
      payload = JSON.stringify(opts.json);
      headers["Content-Type"] = "application/json";
    } else if (opts.bodyFile !== undefined) {
      headers["Content-Type"] = opts.contentType ?? "application/octet-stream";
    }
    const req = http.request({ socketPath, method, path: urlPath, headers, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.once("error", reject);
    });
    req.once("timeout", () => req.destroy(new Error(`${method} ${urlPath}: no answer within ${opts.timeoutMs ?? 30_000}ms`)));
    req.once("error", reject);
    if (opts.bodyFile !== undefined) createReadStream(opts.bodyFile).on("error", reject).pipe(req);
    else req.end(payload);
  });
}

/** The text of a container's logs (stdout and stderr, demultiplexed; a TTY container's raw stream). */
export async function containerLogs(socketPath: string, id: string): Promise<string> {
  const res = await engineRequest(socketPath, "GET", `/containers/${id}/logs?stdout=1&stderr=1`);
  if (res.status !== 200) throw new Error(`logs of ${id}: HTTP ${res.status} ${res.body.toString()}`);
  const b = res.body;
  // Multiplexed frames: [stream, 0, 0, 0, size (4 bytes BE)] then size bytes.
  if (b.length >= 8 && b[0]! <= 2 && b[1] === 0 && b[2] === 0 && b[3] === 0) {
    let out = "";
    for (let i = 0; i + 8 <= b.length; ) {
      const size = b.readUInt32BE(i + 4);
      out += b.subarray(i + 8, i + 8 + size).toString("utf8");
      i += 8 + size;
    }
    return out;
  }
  return b.toString("utf8");
}

/** SIGKILLs every running container of the engine and waits (up to 10 s) until none runs. */
async function killAllContainers(socketPath: string): Promise<void> {
  const list = async (): Promise<{ Id: string }[]> => {
    const r = await engineRequest(socketPath, "GET", "/containers/json", { timeoutMs: 5000 });
    return r.status === 200 ? (JSON.parse(r.body.toString()) as { Id: string }[]) : [];
  };
  const running = await list();
  if (running.length === 0) return;
  await Promise.all(running.map((c) => engineRequest(socketPath, "POST", `/containers/${c.Id}/kill`, { timeoutMs: 5000 }).catch(() => {})));
  await waitFor(async () => (await list()).length === 0, { timeoutMs: 10_000, what: "the engine's containers to die" });
}

// ---------- what a dockerd leaves behind ----------

/**
 * PIDs of processes (not us) whose command line mentions `dir` (dockerd, containerd, shims) or whose root
 * filesystem is an overlay under `dir` (container processes, even orphaned ones whose shim was killed).
 */
function processesReferencing(dir: string): number[] {
  const out: number[] = [];
  for (const e of safeReaddir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").includes(dir) || rootMountOf(pid).includes(dir)) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

/** The mountinfo lines of a process's "/" (a container's show its overlay's lower and upper dirs). */
function rootMountOf(pid: number): string {
  return readFileSync(`/proc/${pid}/mountinfo`, "utf8")
    .split("\n")
    .filter((line) => line.split(" ")[4] === "/")
    .join("\n");
}

/** The processes referencing `dir` and all their descendants (container processes under the shims). */
function treeOf(dir: string): number[] {
  const roots = processesReferencing(dir);
  const children = new Map<number, number[]>();
  for (const e of safeReaddir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      // gone
    }
  }
  const all = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (all.has(p) || p === process.pid) continue;
    all.add(p);
    stack.push(...(children.get(p) ?? []));
  }
  return [...all];
}

function killTreeSync(dir: string): void {
  for (const pid of treeOf(dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  let info: string;
  try {
    info = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of info.split("\n")) {
    const field = line.split(" ")[4];
    if (!field) continue;
    const mp = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(dir + "/")) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Unmounts everything under `dir` (netns bind mounts, overlays, the data-root's own mount); lazily if busy. */
function unmountUnderSync(dir: string): void {
  const umount = tool("umount") ?? "umount";
  for (let round = 0; round < 3; round++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const m of mounts) {
      try {
        execFileSync(umount, [m], { stdio: "ignore", timeout: 10_000 });
      } catch {
        try {
          execFileSync(umount, ["-l", m], { stdio: "ignore", timeout: 10_000 });
        } catch {
          // reported by the caller
        }
      }
    }
  }
}

/** Synchronous cleanup of an engine dir: SIGKILL its processes (by PID), unmount, remove. Never throws. */
function cleanEngineDirSync(dir: string): void {
  try {
    killTreeSync(dir);
    // The kernel releases a dead container's mounts once its processes are reaped; a few tries suffice.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 50 && processesReferencing(dir).some(pidIsRunning); i++) Atomics.wait(pause, 0, 0, 50);
    unmountUnderSync(dir);
    if (mountsUnder(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort at exit
  }
}

/** Removes the engine dirs that runs which died without cleaning up left under the OS temp dir. */
export function sweepStaleEngines(): string[] {
  const removed: string[] = [];
  for (const name of safeReaddir(os.tmpdir())) {
    const m = DIR_RE.exec(name);
    if (!m || pidIsRunning(Number(m[1]))) continue;
    const dir = path.join(os.tmpdir(), name);
    cleanEngineDirSync(dir);
    removed.push(dir);
  }
  return removed;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
