// Validation of every spec kind before it reaches Raft. Each check throws
// StoreError(INVALID_ARGUMENT) naming the field, the bad value and what is allowed.
export * from "./common.js";
export { parseConstraint, constraintKey, type Constraint } from "../../../scheduler/index.js";
export { validateServiceSpec, checkServiceUpdate, resolveServiceReferences, isImageReference, modeName } from "./service.js";
export { validateNetworkSpec, checkNetworkConflicts, PREDEFINED_NETWORKS } from "./network.js";
export { validateSecretSpec, checkSecretUpdate, TEMPLATING_DRIVERS } from "./secret.js";
export { validateConfigSpec, checkConfigUpdate } from "./config.js";
export { validateNodeSpec, checkNodeUpdate } from "./node.js";
export { validateClusterSpec, checkClusterUpdate, MIN_NODE_CERT_EXPIRY_MS } from "./cluster.js";
