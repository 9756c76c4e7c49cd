// A container inspect as the executor's ContainerStatus: state, exit code, the engine's error (or
// "exit code N"), health and times.
import type { ContainerStatus } from "../executor.js";
import type { EngineContainer } from "./engine-client.js";

const HEALTH = new Set(["starting", "healthy", "unhealthy"]);

/** The status of an inspected container. */
export function containerStatus(c: EngineContainer): ContainerStatus {
  const s = c.state;
  const status: ContainerStatus = { containerId: c.id, state: s.Status };
  // A container whose start failed stays "created" with the engine's error and exit code 127/126.
  const ended = s.Status === "exited" || s.Status === "dead" || (s.Status === "created" && s.Error !== "");
  if (ended) status.exitCode = s.ExitCode;
  const error = s.Error || (ended && s.ExitCode !== 0 ? `exit code ${s.ExitCode}${s.OOMKilled ? " (out of memory)" : ""}` : "");
  if (error) status.error = error;
  const health = s.Health?.Status;
  if (health && HEALTH.has(health)) status.health = health;
  if (s.Pid > 0) status.pid = s.Pid;
  const started = engineTime(s.StartedAt);
  if (started !== undefined) status.startedAtUnixMs = started;
  const finished = engineTime(s.FinishedAt);
  if (finished !== undefined && ended) status.finishedAtUnixMs = finished;
  return status;
}

/** Whether the container will not run again by itself: exited, dead, or its start failed. */
export function hasFinished(s: ContainerStatus): boolean {
  return s.state === "exited" || s.state === "dead" || (s.state === "created" && s.error !== undefined);
}

/** Whether the container's process is up (running, paused or restarting). */
export function isUp(s: ContainerStatus): boolean {
  return s.state === "running" || s.state === "paused" || s.state === "restarting";
}

/** Milliseconds since the epoch of an engine time; undefined for Go's zero time ("0001-01-01T00:00:00Z"). */
function engineTime(t: string): number | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
