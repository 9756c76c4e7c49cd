// The test-host harness itself: addresses and loopback, TCP between hosts and from the root namespace,
// a host cut off and reconnected, a partition and its healing, a complete teardown, and the sweep of what a
// dead run left behind.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ipTool, linkNamesSync, netnsNamesSync, resourceNames, runSync, sweepStaleResources } from "./cleanup.js";
import { HostProcess } from "./daemon-process.js";
import { TestNetwork, type TestHost } from "./network.js";
import { waitFor } from "./poll.js";

const PORT = 7000;
/** Answers every connection with "hello from <name>". argv: address port name. */
const SERVER = `const [a,p,n]=process.argv.slice(1);require("net").createServer(s=>s.end("hello from "+n+"\\n")).listen(+p,a,()=>console.log("listening on "+a+":"+p));`;
/** Connects, prints what it reads; exit 1 on a socket error, 2 when nothing came within the timeout. argv: address port timeoutMs. */
const CLIENT = `const [a,p,t]=process.argv.slice(1);let d="";const s=require("net").connect(+p,a);const k=setTimeout(()=>{console.error("timeout");process.exit(2)},+t);s.on("data",c=>d+=c);s.on("end",()=>{clearTimeout(k);process.stdout.write(d);process.exit(0)});s.on("error",e=>{console.error(e.code||e.message);process.exit(1)});`;
/** Listens on 127.0.0.1 and connects to itself. */
const LOOPBACK = `const n=require("net");const srv=n.createServer(s=>s.end("lo ok")).listen(0,"127.0.0.1",()=>{let d="";n.connect(srv.address().port,"127.0.0.1").on("data",c=>d+=c).on("end",()=>{console.log(d);process.exit(0)})});setTimeout(()=>process.exit(2),5000);`;

describe("TestNetwork", () => {
  let tn: TestNetwork | undefined;
  let h1: TestHost, h2: TestHost, h3: TestHost;
  const servers: HostProcess[] = [];

  beforeAll(async () => {
    tn = await TestNetwork.create({ hosts: 3 });
    [h1, h2, h3] = tn.hosts as [TestHost, TestHost, TestHost];
    for (const h of tn.hosts) servers.push(HostProcess.start(tn, h, [process.execPath, "-e", SERVER, h.address, String(PORT), h.name]));
    await Promise.all(servers.map((s) => s.waitForLine(/^listening on /, 10_000)));
  });

  afterAll(async () => {
    await tn?.destroy();
  });

  /** Connects from `from` to `to`'s server; answers what it got, or the error. */
  async function connect(from: TestHost, to: TestHost, timeoutMs = 1000): Promise<{ ok: boolean; out: string }> {
    const r = await tn!.exec(from, [process.execPath, "-e", CLIENT, to.address, String(PORT), String(timeoutMs)], { timeoutMs: timeoutMs + 10_000 });
    return { ok: r.code === 0 && r.stdout.trim() === `hello from ${to.name}`, out: (r.stdout + r.stderr).trim() };
  }

  const reaches = async (from: TestHost, to: TestHost): Promise<boolean> => (await connect(from, to)).ok;
  const eventually = (from: TestHost, to: TestHost, what: string): Promise<true> =>
    waitFor(async () => (await connect(from, to)).ok || undefined, { timeoutMs: 15_000, what });

  it("gives each host its address on eth0, a working loopback and no route out of the subnet", async () => {
    expect(tn!.hosts.map((h) => [h.name, h.index])).toEqual([
      ["h1", 1],
      ["h2", 2],
      ["h3", 3],
    ]);
    for (const h of tn!.hosts) {
      const addr = await tn!.exec(h, [ipTool(), "-json", "-4", "addr", "show", "dev", "eth0"]);
      expect(addr.code).toBe(0);
      const info = JSON.parse(addr.stdout) as { addr_info: { local: string; prefixlen: number }[] }[];
      expect(info[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${h.address}/24`]);
      expect(h.address).toBe(`${tn!.subnet.split(".").slice(0, 3).join(".")}.${10 + h.index}`);
      const lo = await tn!.exec(h, [process.execPath, "-e", LOOPBACK]);
      expect(lo).toMatchObject({ code: 0, stdout: "lo ok\n" });
      const routes = await tn!.exec(h, [ipTool(), "-json", "-4", "route", "show"]);
      expect((JSON.parse(routes.stdout) as { dst: string }[]).map((r) => r.dst)).toEqual([tn!.subnet]);
    }
  });

  it("connects hosts to each other over TCP, and the root namespace to the hosts", async () => {
    expect(await connect(h2, h1)).toEqual({ ok: true, out: "hello from h1" });
    expect(await connect(h3, h1)).toEqual({ ok: true, out: "hello from h1" });
    const fromRoot = await new Promise<string>((resolve, reject) => {
      let d = "";
      net
        .connect(PORT, h1.address)
        .on("data", (c) => (d += c))
        .on("end", () => resolve(d.trim()))
        .on("error", reject);
    });
    expect(fromRoot).toBe("hello from h1");
  });

  it("cuts a host off with linkDown and reconnects it with linkUp", async () => {
    await tn!.linkDown(h3);
    expect((await connect(h3, h1)).ok).toBe(false);
    expect((await connect(h1, h3)).ok).toBe(false);
    expect(await reaches(h2, h1)).toBe(true);
    await tn!.linkUp(h3);
    await eventually(h3, h1, "h3 to reach h1 after linkUp");
    expect(await reaches(h1, h3)).toBe(true);
  });

  it("partitions groups of hosts, and heals", async () => {
    await tn!.partition([h1], [h2]);
    const blocked = await connect(h2, h1);
    expect(blocked.ok).toBe(false);
    expect(blocked.out).toBe("timeout");
    expect(await reaches(h1, h2)).toBe(false);
    expect(await reaches(h1, h3)).toBe(true);
    expect(await reaches(h3, h1)).toBe(true);
    expect(await reaches(h2, h3)).toBe(true);
    await tn!.heal();
    await eventually(h2, h1, "h2 to reach h1 after heal");
    expect(await reaches(h1, h2)).toBe(true);
  });

  it("HostProcess keeps the last 500 lines, fails a wait when the output ends, marks stderr, and escalates a stop to SIGKILL", async () => {
    const chatty = HostProcess.start(tn!, h1, [process.execPath, "-e", `for (let i = 1; i <= 600; i++) console.log("line " + i)`]);
    await expect(chatty.waitForLine(/^never$/, 10_000)).rejects.toThrow(/ended its output before a matching line[^]*line 600/);
    expect(await chatty.exited).toEqual({ code: 0, signal: null });
    expect(chatty.lines()).toHaveLength(500);
    expect(chatty.lines()[0]).toBe("line 101");
    expect(await chatty.waitForLine((l) => l === "line 600", 1000)).toBe("line 600");

    const stubborn = HostProcess.start(tn!, h2, [process.execPath, "-e", `process.on("SIGTERM", () => console.error("ignoring SIGTERM")); console.log("up"); setInterval(() => {}, 1000)`]);
    await stubborn.waitForLine(/^up$/, 10_000);
    expect(stubborn.running).toBe(true);
    expect(await stubborn.stop("SIGTERM", 500)).toEqual({ code: null, signal: "SIGKILL" });
    expect(stubborn.lines()).toContain("! ignoring SIGTERM");
    expect(await stubborn.waitForLine(/SIGTERM/, 1000)).toBe("ignoring SIGTERM");
    expect(stubborn.running).toBe(false);
  });

  it("destroy stops the hosts' processes and removes namespaces, veths and bridge; a second destroy is a no-op", async () => {
    const t = tn!;
    const names = [...t.hosts.map((h) => h.netns), t.bridge];
    expect(netnsNamesSync()).toEqual(expect.arrayContaining(t.hosts.map((h) => h.netns)));
    expect(linkNamesSync()).toContain(t.bridge);
    await t.destroy();
    for (const s of servers) expect(s.running).toBe(false);
    const ns = runSync([ipTool(), "netns", "list"]) ?? "";
    const links = runSync([ipTool(), "link", "show"]) ?? "";
    for (const n of names) {
      expect(ns).not.toContain(n);
      expect(links).not.toContain(n);
    }
    expect(links).not.toContain(`sw${process.pid}-`);
    expect(existsSync(`/var/run/netns/${t.hosts[0]!.netns}`)).toBe(false);
    await t.destroy();
  });
});

describe("sweepStaleResources", () => {
  it("removes the namespaces, veths and bridge of a run whose process is gone", async () => {
    // A pid that no process has: one of our children, already reaped.
    const child = spawn("/bin/true");
    const pid = child.pid!;
    await new Promise((r) => child.once("exit", r));
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    const names = resourceNames(pid, 1);
    const ns = [names.netns(1), names.netns(2)];
    const created = runSync(
      [ipTool(), "-batch", "-"],
      [
        `link add ${names.bridge} type bridge`,
        ...ns.flatMap((n, i) => [`netns add ${n}`, `link add ${names.veth(i + 1)} type veth peer name eth0 netns ${n}`, `link set ${names.veth(i + 1)} master ${names.bridge}`]),
      ].join("\n") + "\n",
    );
    try {
      expect(created).toBeDefined();
      expect(netnsNamesSync()).toEqual(expect.arrayContaining(ns));
      // Leftovers of a live process (this one) are not touched.
      const mine = resourceNames(process.pid, 99);
      runSync([ipTool(), "link", "add", mine.bridge, "type", "bridge"]);
      try {
        const removed = sweepStaleResources();
        expect(removed).toEqual(expect.arrayContaining([...ns, names.veth(1), names.veth(2), names.bridge]));
        expect(linkNamesSync()).toContain(mine.bridge);
      } finally {
        runSync([ipTool(), "link", "delete", mine.bridge]);
      }
      expect(netnsNamesSync().filter((n) => n.startsWith(`sw${pid}-`))).toEqual([]);
      expect(linkNamesSync().filter((l) => l.startsWith(`sw${pid}-`) || l.startsWith(`swb${pid}-`))).toEqual([]);
    } finally {
      runSync([ipTool(), "-force", "-batch", "-"], [...ns.map((n) => `netns delete ${n}`), `link delete ${names.bridge}`].join("\n") + "\n");
    }
  });
});
