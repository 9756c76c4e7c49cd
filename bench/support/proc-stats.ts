// CPU time and memory of a process of this machine, read from /proc (Linux).
import { readFileSync } from "node:fs";

const CLK_TCK = 100;

export interface ProcSample {
  /** User + system CPU seconds since the process started. */
  cpuS: number;
  /** Resident set size now (VmRSS). */
  rssMb: number;
  /** Peak resident set size over the process's life (VmHWM). */
  hwmMb: number;
  /** performance.now() of the sample. */
  at: number;
}

function statusMb(status: string, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  return m ? Number(m[1]) / 1024 : 0;
}

export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuS = (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return { cpuS, rssMb: statusMb(status, "VmRSS"), hwmMb: statusMb(status, "VmHWM"), at: performance.now() };
}

/** Busy CPU seconds of the whole machine since boot, all cores (/proc/stat: everything but idle and iowait). */
export function machineBusyS(): number {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

/** CPU use between two samples in % of one core. */
export function cpuPct(a: ProcSample, b: ProcSample): number {
  return ((b.cpuS - a.cpuS) / ((b.at - a.at) / 1000)) * 100;
}
