// What an agent reports about its host at session start: hostname, platform and capacity. The
// executor adds the engine's description (version, labels, plugins) later.
import os from "node:os";
import { NodeDescription } from "../../proto/gen/types.js";

/** Node's `process.arch` names in Go/OCI terms, as platforms are matched (x64 → amd64). */
const GO_ARCH: Record<string, string> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ia32: "386",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
  mips: "mips",
  mipsel: "mipsle",
};

/** The Go/OCI name of a Node.js architecture name (unknown ones pass through). */
export function goArch(nodeArch: string): string {
  return GO_ARCH[nodeArch] ?? nodeArch;
}

/** The Go/OCI name of a Node.js platform name ("win32" → "windows"; "linux" stays). */
export function goOs(nodePlatform: string): string {
  return nodePlatform === "win32" ? "windows" : nodePlatform;
}

/** What describeHost reads of the host; tests pass their own. */
export interface HostFacts {
  hostname: string;
  platform: string;
  arch: string;
  cpus: number;
  memoryBytes: number;
}

/** The facts of the host this process runs on. */
export function hostFacts(): HostFacts {
  return {
    hostname: os.hostname(),
    platform: process.platform,
    arch: process.arch,
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
  };
}

/** This host's description: hostname, platform (os, Go architecture) and resources (CPUs as nano CPUs, total memory). */
export function describeHost(facts: HostFacts = hostFacts()): NodeDescription {
  return NodeDescription.fromPartial({
    hostname: facts.hostname,
    platform: { os: goOs(facts.platform), architecture: goArch(facts.arch) },
    resources: { nanoCpus: facts.cpus * 1_000_000_000, memoryBytes: facts.memoryBytes },
  });
}
