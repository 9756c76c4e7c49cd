// The Docker executor's failures: one class with a stable `code`, whose message carries the engine's own
// words ("image not found: app:1 (…)", "OCI runtime create failed: …"), since that is what a user sees.
import { EngineApiError, isAbort } from "./engine-client.js";

/** Why a Docker executor call failed. */
export const DockerErrorCode = {
  /** The image is not present and the pull failed (or the engine lost it before create). */
  ImageNotFound: "DOCKER_IMAGE_NOT_FOUND",
  /** The task's spec asks for something this executor cannot do (not a container, secrets, npipe). */
  UnsupportedSpec: "DOCKER_UNSUPPORTED_SPEC",
  /** The call needs the task's container and there is none. */
  NoContainer: "DOCKER_NO_CONTAINER",
  /** The engine could not be reached (socket missing, connection refused or reset). */
  EngineUnreachable: "DOCKER_ENGINE_UNREACHABLE",
  /** The engine refused or failed the request; the message is the engine's. */
  Engine: "DOCKER_ENGINE",
  /** The executor was closed. */
  Closed: "DOCKER_CLOSED",
} as const;
/** One of the {@link DockerErrorCode} values. */
export type DockerErrorCode = (typeof DockerErrorCode)[keyof typeof DockerErrorCode];

/** A failure of the Docker executor; `code` says which kind, the message is for users. */
export class DockerExecutorError extends Error {
  override readonly name = "DockerExecutorError";
  constructor(
    readonly code: DockerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Whether `e` is a {@link DockerExecutorError} of the given code. */
export function isDockerError(e: unknown, code: DockerErrorCode): e is DockerExecutorError {
  return e instanceof DockerExecutorError && e.code === code;
}

/** `image not found: IMAGE (REASON)`, the reason being the engine's, without any progress output. */
export function imageNotFound(image: string, cause: unknown): DockerExecutorError {
  const reason = cause instanceof EngineApiError ? cause.engineMessage : cause instanceof Error ? cause.message : String(cause);
  return new DockerExecutorError(DockerErrorCode.ImageNotFound, `image not found: ${image} (${reason.trim()})`, { cause });
}

/**
 * Any failure of an engine call as a {@link DockerExecutorError}, `what` ("start") prefixed to the engine's
 * message; an abort stays the abort it is.
 */
export function engineFailure(what: string, cause: unknown): Error {
  if (cause instanceof DockerExecutorError) return cause;
  if (isAbort(cause)) return cause as Error;
  if (cause instanceof EngineApiError) {
    if (cause.status === undefined) {
      return new DockerExecutorError(DockerErrorCode.EngineUnreachable, `${what}: docker engine unreachable: ${cause.engineMessage}`, { cause });
    }
    return new DockerExecutorError(DockerErrorCode.Engine, `${what}: ${cause.engineMessage}`, { cause });
  }
  return new DockerExecutorError(DockerErrorCode.Engine, `${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}
