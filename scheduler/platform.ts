// Platform matching: a task's supported platforms against a node's, with Docker's architecture aliases.
import type { Node } from "../proto/gen/objects.js";
import type { Platform } from "../proto/gen/types.js";

const ARCH_ALIASES: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };

/** Lower-cased architecture with x86_64 → amd64 and aarch64 → arm64. */
export function normalizeArch(arch: string): string {
  const lower = arch.toLowerCase();
  return ARCH_ALIASES[lower] ?? lower;
}

/** Whether the node runs one of `platforms`; an empty list accepts any node, an empty os/arch accepts any value. */
export function nodeSupportsPlatforms(node: Node, platforms: readonly Platform[]): boolean {
  if (platforms.length === 0) return true;
  const have = node.description?.platform;
  if (!have) return false;
  const os = have.os.toLowerCase();
  const arch = normalizeArch(have.architecture);
  return platforms.some(
    (p) => (p.os === "" || p.os.toLowerCase() === os) && (p.architecture === "" || normalizeArch(p.architecture) === arch),
  );
}
