// What a service's allocated endpoint is: the endpoint spec it was allocated for and the ports it
// publishes. Until overlay networking lands there is nothing to reserve: host-mode ports are guarded
// by the scheduler (one task per node and port), and ingress ports are kept as the spec gives them.
// Pure.
import type { Service } from "../../proto/gen/objects.js";
import { Endpoint, EndpointSpec } from "../../proto/gen/types.js";

/** The endpoint a service should have for its current spec, keeping what was allocated before (VIPs). */
export function allocatedEndpoint(service: Service): Endpoint {
  const spec = EndpointSpec.fromPartial(service.spec?.endpoint ?? {});
  return Endpoint.fromPartial({
    spec,
    ports: spec.ports,
    virtualIps: service.endpoint?.virtualIps ?? [],
  });
}

/** True when the service's endpoint was allocated for its current endpoint spec. */
export function endpointAllocated(service: Service): boolean {
  if (!service.endpoint) return false;
  const want = EndpointSpec.encode(EndpointSpec.fromPartial(service.spec?.endpoint ?? {})).finish();
  const have = EndpointSpec.encode(EndpointSpec.fromPartial(service.endpoint.spec ?? {})).finish();
  return Buffer.compare(want, have) === 0;
}
