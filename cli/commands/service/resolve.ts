// Finding services the user names (id, unique id prefix or name: swarmd resolves them) and
// collecting per-argument failures the way docker's multi-argument commands report them.
import type { Service } from "../../../proto/gen/objects.js";
import { isNotFound, type Swarmd } from "../../client.js";
import { CliError, CliErrors } from "../../errors.js";

/** The service `ref` names; NOT_FOUND keeps swarmd's message. */
export async function getService(s: Swarmd, ref: string): Promise<Service> {
  const { service } = await s.control.getService({ serviceId: ref });
  if (!service) throw new CliError(`swarmd returned no service for ${ref}`);
  return service;
}

/** The services `refs` name, and "no such service: REF" for each one swarmd does not know. */
export async function findServices(s: Swarmd, refs: readonly string[]): Promise<{ found: Service[]; missing: string[] }> {
  const found: Service[] = [];
  const missing: string[] = [];
  for (const ref of refs) {
    try {
      found.push(await getService(s, ref));
    } catch (e) {
      if (!isNotFound(e)) throw e;
      missing.push(`no such service: ${ref}`);
    }
  }
  return { found, missing };
}

/** Runs `fn` for every argument, continuing after failures; fails with every message at the end. */
export async function forEachArg(args: readonly string[], fn: (arg: string) => Promise<void>): Promise<void> {
  const errors: string[] = [];
  for (const arg of args) {
    try {
      await fn(arg);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      errors.push(...(e instanceof CliErrors ? e.messages : [e.message]));
    }
  }
  if (errors.length > 0) throw new CliErrors(errors);
}
