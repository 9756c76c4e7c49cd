// Test hosts on one machine: a network namespace per host, joined by veth pairs to a bridge of their own,
// with an address per host on 10.77.<n>.0/24 and no route anywhere else. Runs commands and programs inside
// a host (nsenter --net, which keeps /sys and the cgroup mounts), cuts a host's link, partitions hosts with
// nftables (or iptables) rules inside their namespaces, and removes everything it made.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { constants as osConstants } from "node:os";
import {
  ipTool,
  linkNamesSync,
  netnsNamesSync,
  namespacePidsSync,
  processesIn,
  registerNetwork,
  remainingSync,
  removeResourcesSync,
  resourceNames,
  runSync,
  sweepStaleResources,
  tool,
  unregisterNetwork,
  killNamespaceSync,
  type Resources,
} from "./cleanup.js";
import { waitFor } from "./poll.js";

export interface TestHost {
  /** `h<index>`, or `<network name>-h<index>`. */
  readonly name: string;
  /** Network namespace name (under /var/run/netns). */
  readonly netns: string;
  /** IPv4 address on the host's eth0. */
  readonly address: string;
  /** 1-based position in the network; the address ends in 10 + index. */
  readonly index: number;
}

export interface ExecResult {
  /** Exit code; 128 + signal number if a signal ended it. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** The whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** SIGKILL and reject after this long (default 60 s). */
  timeoutMs?: number;
}

export interface SpawnOptions {
  /** The whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default: stdin ignored, stdout and stderr piped. */
  stdio?: StdioOptions;
}

const PARTITION_TABLE = "swarm_test_partition";
const PARTITION_CHAIN = "SWARM-TEST-PARTITION";
/** Network numbers (the k in names) and subnets (the n in 10.77.n.0/24) held by this process's live networks. */
const liveK = new Set<number>();
const liveN = new Set<number>();

export class TestNetwork {
  /** This network's subnet, e.g. `10.77.42.0/24`. */
  readonly subnet: string;
  /**
   * The root namespace's address on the bridge (10.77.n.1): the test process itself reaches every host's
   * address directly. Hosts have no default route, so they reach nothing beyond the subnet.
   */
  readonly rootAddress: string;
  readonly bridge: string;
  private readonly resources: Resources;
  private readonly veths = new Map<TestHost, string>();
  private readonly children = new Set<ChildProcess>();
  /** Per host, the addresses its partition rules drop. */
  private readonly blocked = new Map<TestHost, Set<string>>();
  private destroying: Promise<void> | null = null;
  private readonly registration = { teardownSync: () => this.teardownSync() };

  private constructor(
    readonly name: string,
    readonly hosts: TestHost[],
    private readonly k: number,
    private readonly n: number,
  ) {
    const names = resourceNames(process.pid, k);
    this.subnet = `10.77.${n}.0/24`;
    this.rootAddress = `10.77.${n}.1`;
    this.bridge = names.bridge;
    for (const h of hosts) this.veths.set(h, names.veth(h.index));
    this.resources = { netns: hosts.map((h) => h.netns), veths: [...this.veths.values()], bridge: this.bridge };
  }

  /** Creates `hosts` hosts (1 to 99) on one new bridge; removes leftovers of dead runs first. */
  static async create(opts: { hosts: number; name?: string }): Promise<TestNetwork> {
    if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 99) throw new Error(`hosts must be 1..99, not ${opts.hosts}`);
    if (opts.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9-]*$/.test(opts.name)) throw new Error(`bad network name ${JSON.stringify(opts.name)}`);
    const ip = ipTool();
    if (!tool("nsenter")) throw new Error("nsenter is not installed: apt-get install -y util-linux");
    sweepStaleResources();
    const k = pickK();
    const n = pickSubnet(k);
    const names = resourceNames(process.pid, k);
    const hosts: TestHost[] = [];
    for (let i = 1; i <= opts.hosts; i++) {
      hosts.push({ name: opts.name ? `${opts.name}-h${i}` : `h${i}`, netns: names.netns(i), address: `10.77.${n}.${10 + i}`, index: i });
    }
    const net = new TestNetwork(opts.name ?? `net${k}`, hosts, k, n);
    liveK.add(k);
    liveN.add(n);
    // Registered before anything exists, so that a failure half-way is still cleaned up at exit.
    registerNetwork(net.registration);
    try {
      const root = [`link add ${net.bridge} type bridge`, `link set ${net.bridge} up`, `addr add ${net.rootAddress}/24 dev ${net.bridge}`];
      for (const h of hosts) {
        const veth = net.veths.get(h)!;
        root.push(`netns add ${h.netns}`, `link add ${veth} type veth peer name eth0 netns ${h.netns}`, `link set ${veth} master ${net.bridge} up`);
      }
      await run([ip, "-batch", "-"], root.join("\n") + "\n");
      await Promise.all(hosts.map((h) => run([ip, "-n", h.netns, "-batch", "-"], `link set lo up\naddr add ${h.address}/24 dev eth0\nlink set eth0 up\n`)));
      net.allowForwarding();
      await waitFor(
        async () => {
          for (const h of hosts) {
            const [eth0] = JSON.parse(await run([ip, "-n", h.netns, "-json", "link", "show", "eth0"])) as { operstate: string }[];
            if (eth0?.operstate !== "UP") throw new Error(`${h.name} eth0 is ${eth0?.operstate}`);
          }
          return true;
        },
        { timeoutMs: 10_000, what: `the eth0 links of network ${net.name} to come up` },
      );
      return net;
    } catch (e) {
      await net.destroy().catch(() => {});
      throw e;
    }
  }

  /** The host named `name` (e.g. "h2"). */
  host(name: string): TestHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name} in network ${this.name}`);
    return h;
  }

  /** Runs `argv` inside the host and collects its output; a non-zero exit is a result, not an error. */
  async exec(host: TestHost, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const child = this.spawn(host, argv, { env: opts.env, cwd: opts.cwd, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    return new Promise((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      if (opts.input !== undefined) child.stdin!.end(opts.input);
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`timed out after ${timeoutMs}ms running ${argv.join(" ")} in ${host.name}; stderr so far: ${stderr.trim()}`));
      }, timeoutMs);
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? 128 + (signal ? osConstants.signals[signal] : 0), stdout, stderr });
      });
    });
  }

  /** Starts `argv` inside the host; see HostProcess (daemon-process.ts) for long-running programs. */
  spawn(host: TestHost, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    this.check(host);
    if (this.destroying) throw new Error(`network ${this.name} is destroyed`);
    if (argv.length === 0) throw new Error("empty argv");
    const child = spawn(tool("nsenter")!, [`--net=/var/run/netns/${host.netns}`, "--", ...argv], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: opts.stdio ?? ["ignore", "pipe", "pipe"],
    });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    child.once("error", () => this.children.delete(child));
    return child;
  }

  /** Sets the host's outer veth down: the host keeps its address but reaches no one, and no one reaches it. */
  async linkDown(host: TestHost): Promise<void> {
    this.check(host);
    await run([ipTool(), "link", "set", this.veths.get(host)!, "down"]);
  }

  /** Reconnects a host cut off by `linkDown`. */
  async linkUp(host: TestHost): Promise<void> {
    this.check(host);
    await run([ipTool(), "link", "set", this.veths.get(host)!, "up"]);
  }

  /**
   * Drops all traffic between every host of `a` and every host of `b`, both ways, with rules inside their
   * namespaces (nftables, else iptables); established connections stall too. Partitions add up until `heal()`.
   */
  async partition(a: TestHost[], b: TestHost[]): Promise<void> {
    for (const h of [...a, ...b]) this.check(h);
    const overlap = a.filter((h) => b.includes(h));
    if (overlap.length > 0) throw new Error(`hosts in both groups: ${overlap.map((h) => h.name).join(", ")}`);
    const add = (h: TestHost, others: TestHost[]): void => {
      const s = this.blocked.get(h) ?? new Set<string>();
      for (const o of others) s.add(o.address);
      this.blocked.set(h, s);
    };
    for (const h of a) add(h, b);
    for (const h of b) add(h, a);
    await Promise.all([...a, ...b].map((h) => this.applyRules(h)));
  }

  /** Removes every partition rule. */
  async heal(): Promise<void> {
    const hosts = [...this.blocked.keys()];
    this.blocked.clear();
    await Promise.all(hosts.map((h) => this.applyRules(h)));
  }

  /**
   * Stops the processes started in its hosts (HostProcess: SIGTERM, then SIGKILL; anything else left in the
   * namespaces: SIGKILL), then deletes namespaces, veths, bridge and FORWARD rule. Idempotent; throws only if
   * something it made is still there afterwards.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    await Promise.all(processesIn(this.resources.netns).map((p) => p.stop()));
    for (const c of this.children) c.kill("SIGKILL");
    for (const ns of this.resources.netns) killNamespaceSync(ns);
    await waitFor(() => this.resources.netns.every((ns) => namespacePidsSync(ns).length === 0), {
      timeoutMs: 10_000,
      what: `the processes in network ${this.name} to exit`,
    }).catch(() => {});
    removeResourcesSync(this.resources);
    unregisterNetwork(this.registration);
    liveK.delete(this.k);
    liveN.delete(this.n);
    const left = remainingSync(this.resources);
    if (left.length > 0) throw new Error(`network ${this.name}: could not remove ${left.join(", ")}`);
  }

  /** Synchronous teardown, for the exit handlers (cleanup.ts). */
  private teardownSync(): void {
    for (const c of this.children) if (c.pid !== undefined && c.exitCode === null) runKill(c.pid);
    removeResourcesSync(this.resources);
  }

  /**
   * Checks again whether iptables would drop this bridge's frames, and lets them through if so. `create`
   * checks once; call this when iptables (a dependency of docker.io) or a dockerd in the root namespace
   * (FORWARD policy DROP) may have appeared since. Idempotent.
   */
  refreshForwarding(): void {
    if (this.destroying) return;
    this.allowForwarding();
  }

  /** If iptables would drop bridged frames (a dockerd sets FORWARD to DROP), lets this bridge's traffic through. */
  private allowForwarding(): void {
    if (this.resources.forwardRule !== undefined) return;
    const iptables = tool("iptables");
    if (!iptables) return;
    const rules = runSync([iptables, "-w", "-S", "FORWARD"]);
    if (rules === undefined || rules.trim() === "-P FORWARD ACCEPT") return;
    this.resources.forwardRule = this.bridge;
    if (runSync([iptables, "-w", "-I", "FORWARD", "-i", this.bridge, "-o", this.bridge, "-j", "ACCEPT"]) === undefined) {
      throw new Error(`could not insert the iptables FORWARD rule for ${this.bridge}`);
    }
  }

  private async applyRules(h: TestHost): Promise<void> {
    const addrs = [...(this.blocked.get(h) ?? [])];
    const nft = tool("nft");
    const iptables = tool("iptables");
    let argv: string[];
    let input: string;
    if (nft) {
      const set = `{ ${addrs.join(", ")} }`;
      const chains =
        addrs.length === 0
          ? ""
          : `table inet ${PARTITION_TABLE} {\n` +
            `  chain input { type filter hook input priority -10; policy accept; ip saddr ${set} drop; }\n` +
            `  chain output { type filter hook output priority -10; policy accept; ip daddr ${set} drop; }\n}\n`;
      argv = [nft, "-f", "-"];
      input = `table inet ${PARTITION_TABLE}\ndelete table inet ${PARTITION_TABLE}\n${chains}`;
    } else if (iptables) {
      const c = PARTITION_CHAIN;
      const lines = [
        `${iptables} -w -N ${c} 2>/dev/null || true`,
        `${iptables} -w -F ${c}`,
        `${iptables} -w -C INPUT -j ${c} 2>/dev/null || ${iptables} -w -I INPUT 1 -j ${c}`,
        `${iptables} -w -C OUTPUT -j ${c} 2>/dev/null || ${iptables} -w -I OUTPUT 1 -j ${c}`,
        ...addrs.flatMap((a) => [`${iptables} -w -A ${c} -s ${a} -j DROP`, `${iptables} -w -A ${c} -d ${a} -j DROP`]),
      ];
      argv = ["/bin/sh", "-e"];
      input = lines.join("\n") + "\n";
    } else {
      throw new Error("partition needs nftables or iptables: apt-get install -y nftables");
    }
    const r = await this.exec(h, argv, { input, timeoutMs: 15_000 });
    if (r.code !== 0) throw new Error(`partition rules in ${h.name} failed (code ${r.code}): ${r.stderr.trim()}`);
  }

  private check(h: TestHost): void {
    if (!this.veths.has(h)) throw new Error(`host ${h?.name} is not in network ${this.name}`);
  }
}

/** Runs a command; resolves its stdout, rejects with its stderr on failure. */
function run(argv: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    if (input !== undefined) child.stdin!.end(input);
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(" ")} failed (code ${code}): ${err.trim()}\n${input ?? ""}`))));
  });
}

function runKill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** The smallest network number not used by a live network of this process nor left in the kernel. */
function pickK(): number {
  const ns = new Set(netnsNamesSync());
  const links = new Set(linkNamesSync());
  for (let k = 1; k < 100; k++) {
    if (liveK.has(k)) continue;
    const names = resourceNames(process.pid, k);
    if (links.has(names.bridge) || ns.has(names.netns(1)) || links.has(names.veth(1))) continue;
    return k;
  }
  throw new Error("more than 99 live test networks in one process");
}

/**
 * A third octet for 10.77.n.0/24 that no live network of this process uses and no route or address of the
 * root namespace overlaps (other runs' bridges carry their subnets' routes). Starts from the pid, so that
 * concurrent runs seldom even look at the same n.
 */
function pickSubnet(k: number): number {
  const routes = JSON.parse(runSync([ipTool(), "-4", "-json", "route", "show", "table", "all"]) || "[]") as { dst: string }[];
  const prefixes = routes
    .map((r) => r.dst)
    .filter((d) => d && d !== "default")
    .map((d) => {
      const [addr, len] = d.split("/");
      return { base: ipv4(addr!), len: len === undefined ? 32 : Number(len) };
    })
    .filter((p) => p.base !== undefined);
  const start = (process.pid * 7 + k * 31) % 254;
  for (let j = 0; j < 254; j++) {
    const n = ((start + j) % 254) + 1;
    if (liveN.has(n)) continue;
    const ours = ipv4(`10.77.${n}.0`)!;
    const clash = prefixes.some((p) => {
      const bits = Math.min(24, p.len);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      return ((ours & mask) >>> 0) === ((p.base! & mask) >>> 0);
    });
    if (!clash) return n;
  }
  throw new Error("no free 10.77.n.0/24 subnet");
}

function ipv4(s: string): number | undefined {
  const parts = s.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}
