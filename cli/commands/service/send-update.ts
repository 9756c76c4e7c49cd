// Sending a change of a service read earlier (`update`, `rollback`, `scale`): the version read
// goes with it, so that swarmd refuses the change when someone else changed the service meanwhile
// instead of silently undoing their change; that refusal becomes a message saying what happened
// and what to do.
import * as grpc from "@grpc/grpc-js";
import type { Service } from "../../../proto/gen/objects.js";
import type { ServiceSpec } from "../../../proto/gen/specs.js";
import type { Swarmd } from "../../client.js";
import { CliError, RpcError } from "../../errors.js";

/** The change: a new spec, or a rollback to the previous one. */
export type ServiceChange = { spec: ServiceSpec } | { rollback: true };

/** swarmd's word for a write based on a version that is no longer current. */
const OUT_OF_SEQUENCE = "update out of sequence";

/** The service's name, or its id when it has none. */
export function serviceName(svc: Service): string {
  return svc.spec?.annotations?.name || svc.id;
}

/**
 * Sends `change` for `svc` as read. A rollback of a service without a previous spec is refused
 * before anything is sent; a concurrent change is reported as a CliError naming the service.
 */
export async function sendServiceUpdate(s: Swarmd, svc: Service, change: ServiceChange): Promise<void> {
  const rollback = "rollback" in change;
  if (rollback && !svc.previousSpec) throw new CliError(`service ${serviceName(svc)} has no previous spec to roll back to`);
  try {
    await s.control.updateService({
      serviceId: svc.id,
      serviceVersion: svc.meta?.version,
      spec: rollback ? undefined : change.spec,
      rollback,
    });
  } catch (e) {
    if (e instanceof RpcError && e.code === grpc.status.FAILED_PRECONDITION && e.message.includes(OUT_OF_SEQUENCE)) {
      throw new CliError(`service ${serviceName(svc)} was changed by someone else since it was read (${OUT_OF_SEQUENCE}): run the command again`, { cause: e });
    }
    throw e;
  }
}
