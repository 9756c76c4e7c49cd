// What the host tests leave in the kernel, and making sure they do not leave it: the names of our
// namespaces, veths, bridges and FORWARD rules (all carrying the creating process's pid), a process-wide
// registry of live networks and processes torn down synchronously at exit or on SIGINT/SIGTERM, and
// `sweepStaleResources()`, which removes what a run that died without cleaning up left behind.
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";

/** Kernel object names of network `k` of process `pid`; they fit IFNAMSIZ (15 chars) for k, i < 100. */
export function resourceNames(pid: number, k: number) {
  return {
    bridge: `swb${pid}-${k}`,
    netns: (i: number) => `sw${pid}-${k}-h${i}`,
    veth: (i: number) => `sw${pid}-${k}v${i}`,
  };
}
const NETNS_RE = /^sw(\d+)-\d+-h\d+$/;
const VETH_RE = /^sw(\d+)-\d+v\d+$/;
const BRIDGE_RE = /^swb(\d+)-\d+$/;
const FORWARD_RE = /^-A FORWARD -i (swb(\d+)-\d+) -o \1 -j ACCEPT$/;

/** Everything one network made: what `removeResourcesSync` deletes. */
export interface Resources {
  netns: string[];
  veths: string[];
  bridge: string;
  /** The bridge named in an `iptables -I FORWARD -i BR -o BR -j ACCEPT` that we inserted, if any. */
  forwardRule?: string;
}

/** Absolute path of a system tool (sbin included, whatever PATH says), or undefined when not installed. */
export function tool(name: string): string | undefined {
  const dirs = ["/usr/sbin", "/sbin", "/usr/bin", "/bin", ...(process.env["PATH"] ?? "").split(":")];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `ip`, resolved once: everything here needs it. */
export function ipTool(): string {
  const ip = tool("ip");
  if (!ip) throw new Error("iproute2 (`ip`) is not installed: apt-get install -y iproute2");
  return ip;
}

/** Runs a command synchronously; answers its stdout, or undefined if it failed. Never throws. */
export function runSync(argv: string[], input?: string): string | undefined {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"], timeout: 15_000 });
  } catch {
    return undefined;
  }
}

export function pidIsRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** PIDs of the processes inside a named namespace (`ip netns pids`); empty if it is gone. */
export function namespacePidsSync(netns: string): number[] {
  const out = runSync([ipTool(), "netns", "pids", netns]) ?? "";
  return out.split(/\s+/).filter(Boolean).map(Number).filter((p) => Number.isInteger(p) && p > 0 && p !== process.pid);
}

/** SIGKILLs, by PID, every process inside the namespace: only our own programs (and their children) live there. */
export function killNamespaceSync(netns: string): void {
  for (const pid of namespacePidsSync(netns)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export function netnsNamesSync(): string[] {
  const out = runSync([ipTool(), "-json", "netns", "list"])?.trim();
  if (!out) return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

export function linkNamesSync(): string[] {
  const out = runSync([ipTool(), "-json", "link", "show"])?.trim();
  if (!out) return [];
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname);
}

/**
 * Deletes a network's kernel objects, ignoring those already gone: processes inside its namespaces are
 * SIGKILLed, the namespaces deleted, then the outer veths (which survive a namespace that a process still
 * holds), the bridge and our FORWARD rule.
 */
export function removeResourcesSync(r: Resources): void {
  for (const ns of r.netns) killNamespaceSync(ns);
  const ip = ipTool();
  const batch = [...r.netns.map((ns) => `netns delete ${ns}`), ...r.veths.map((v) => `link delete ${v}`), `link delete ${r.bridge}`];
  runSync([ip, "-force", "-batch", "-"], batch.join("\n") + "\n");
  const iptables = r.forwardRule !== undefined ? tool("iptables") : undefined;
  if (iptables) runSync([iptables, "-w", "-D", "FORWARD", "-i", r.forwardRule!, "-o", r.forwardRule!, "-j", "ACCEPT"]);
}

/** Names still present of those in `r` (namespaces and links), for checking a teardown. */
export function remainingSync(r: Resources): string[] {
  const ns = new Set(netnsNamesSync());
  const links = new Set(linkNamesSync());
  return [...r.netns.filter((n) => ns.has(n)), ...[...r.veths, r.bridge].filter((l) => links.has(l))];
}

/**
 * Removes namespaces, veths, bridges and FORWARD rules named with our `sw<pid>` scheme whose pid no longer
 * runs, so that a run that crashed (or was SIGKILLed) does not leak into the next one. Answers what it removed.
 */
export function sweepStaleResources(): string[] {
  const stale = (re: RegExp, name: string): boolean => {
    const m = re.exec(name);
    return m !== null && !pidIsRunning(Number(m[1]));
  };
  const netns = netnsNamesSync().filter((n) => stale(NETNS_RE, n));
  const links = linkNamesSync();
  const veths = links.filter((l) => stale(VETH_RE, l));
  const bridges = links.filter((l) => stale(BRIDGE_RE, l));
  const removed = [...netns, ...veths, ...bridges];
  for (const ns of netns) killNamespaceSync(ns);
  const batch = [...netns.map((n) => `netns delete ${n}`), ...veths.map((v) => `link delete ${v}`), ...bridges.map((b) => `link delete ${b}`)];
  if (batch.length > 0) runSync([ipTool(), "-force", "-batch", "-"], batch.join("\n") + "\n");
  const iptables = tool("iptables");
  if (iptables) {
    for (const line of (runSync([iptables, "-w", "-S", "FORWARD"]) ?? "").split("\n")) {
      const m = FORWARD_RE.exec(line.trim());
      if (!m || pidIsRunning(Number(m[2]))) continue;
      runSync([iptables, "-w", "-D", "FORWARD", "-i", m[1]!, "-o", m[1]!, "-j", "ACCEPT"]);
      removed.push(`iptables FORWARD rule for ${m[1]}`);
    }
  }
  return removed;
}

/** A live network, as the registry sees it. */
export interface TrackedNetwork {
  teardownSync(): void;
}

/** A live process started in a host, as the registry sees it. */
export interface TrackedProcess {
  readonly pid: number | undefined;
  /** The namespace it runs in. */
  readonly netns: string;
  /** SIGKILL by its own PID; no waiting. */
  kill9Sync(): void;
  /** Graceful stop (SIGTERM, then SIGKILL after a timeout). */
  stop(): Promise<unknown>;
}

const networks = new Set<TrackedNetwork>();
const processes = new Set<TrackedProcess>();
let hooked = false;

export function registerNetwork(n: TrackedNetwork): void {
  hook();
  networks.add(n);
}

export function unregisterNetwork(n: TrackedNetwork): void {
  networks.delete(n);
}

export function registerProcess(p: TrackedProcess): void {
  hook();
  processes.add(p);
}

export function unregisterProcess(p: TrackedProcess): void {
  processes.delete(p);
}

/** Live registered processes running in any of the given namespaces. */
export function processesIn(netns: readonly string[]): TrackedProcess[] {
  return [...processes].filter((p) => netns.includes(p.netns));
}

/** Synchronously kills every registered process and tears down every registered network. */
export function teardownAllSync(): void {
  for (const p of [...processes]) {
    try {
      p.kill9Sync();
    } catch {
      // keep going
    }
  }
  processes.clear();
  for (const n of [...networks]) {
    try {
      n.teardownSync();
    } catch {
      // keep going
    }
  }
  networks.clear();
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", teardownAllSync);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = (): void => {
      teardownAllSync();
      process.removeListener(sig, onSignal);
      // With no other listener, die of the signal as we would have without ours.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}
