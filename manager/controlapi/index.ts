// The Control API: validation, CRUD with optimistic concurrency and watches over the store
// (ControlService, plain TypeScript), and its gRPC adapter that forwards to the leader.
export { ControlService, newObjectId, type ControlServiceOptions, type ManagerMembership } from "./control-service.js";
export {
  addControlService,
  controlServiceImplementation,
  toGrpcStatus,
  LeaderClients,
  NO_LEADER,
  REDIRECT_METADATA,
  type ControlAdapterOptions,
  type ControlApi,
  type UnaryMethod,
} from "./grpc-adapter.js";
export { MAX_DATA_BYTES, MAX_NAME_LENGTH, MAX_OBJECT_BYTES, parseConstraint, type Constraint } from "./validate/index.js";
