// The Docker executor: runs a node's tasks as containers of a Docker engine (see README.md).
export { DEFAULT_ENGINE_SOCKET, DockerExecutor, type DockerExecutorOptions } from "./docker-executor.js";
export { DockerErrorCode, DockerExecutorError, isDockerError } from "./errors.js";
export type { Backoff, DockerExecutorLogger } from "./events.js";
export { LABEL, containerName } from "./names.js";
