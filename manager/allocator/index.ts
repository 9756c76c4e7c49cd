// The allocator: services' endpoints and the NEW → PENDING gate of tasks.
export { Allocator, type AllocatorOptions } from "./allocator.js";
export { gateTask, endpointStep, type AllocationStep, PENDING_MESSAGE } from "./task-gate.js";
export { allocatedEndpoint, endpointAllocated } from "./endpoint.js";
