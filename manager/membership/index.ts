// Managers' Raft membership: joining and leaving, role changes, and how managers look to `node ls`.
export { RaftMembership, nodesByRaftId, type RaftMembershipOptions } from "./raft-membership.js";
export { raftMembershipImplementation, type MembershipGrpcOptions } from "./membership-grpc.js";
export { raftManagerMembership } from "./manager-status.js";
export { RoleManager, type RoleManagerOptions } from "./role-manager.js";
