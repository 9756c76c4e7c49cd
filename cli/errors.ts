// The CLI's expected failures. Each becomes one `Error: <message>` line on stderr and exit code 1;
// anything else that escapes a command is a bug and is reported the same way, never as a stack.

/** A failure the user can act on: printed as `Error: <message>`, exit code 1. */
export class CliError extends Error {
  override name = "CliError";
  /** The process exit code this error ends the command with. */
  readonly exitCode: number = 1;
}

/** A flag value that does not parse: names the flag, the value and what is allowed (docker's wording). */
export class FlagValueError extends CliError {
  override name = "FlagValueError";
  constructor(
    readonly flag: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super(`invalid argument "${value}" for "${flag}" flag: ${reason}`);
  }
}

/** swarmd's socket cannot be reached. */
export class ConnectError extends CliError {
  override name = "ConnectError";
  constructor(
    readonly host: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot connect to swarmd at ${host}: is swarmd running?`, options);
  }
}

/** Several independent failures of one command (`node rm a b`): one `Error:` line each. */
export class CliErrors extends CliError {
  override name = "CliErrors";
  constructor(readonly messages: string[]) {
    super(messages.join("\n"));
  }
}

/** A `--format` template that does not parse or cannot be executed on the data. */
export class TemplateError extends CliError {
  override name = "TemplateError";
}

/** A call swarmd answered with an error: its gRPC status code and a one-line message. */
export class RpcError extends CliError {
  override name = "RpcError";
  constructor(
    /** The gRPC status code (`grpc.status`). */
    readonly code: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
