// The grpc-js handlers of the RaftMembership service: the caller is the manager named by its
// verified certificate; only the leader changes membership, others redirect to it.
import * as grpc from "@grpc/grpc-js";
import type { RaftMembershipServer } from "../../proto/gen/membership.js";
import { peerIdentity } from "../ca/index.js";
import { toGrpcStatus } from "../controlapi/index.js";
import { notLeaderStatus } from "../leader-redirect.js";
import type { RaftMembership } from "./raft-membership.js";

export interface MembershipGrpcOptions {
  isLeader(): boolean;
  leaderAddr(): string | null;
}

function unauthenticated(): Partial<grpc.StatusObject> {
  return { code: grpc.status.UNAUTHENTICATED, details: "a manager certificate of this cluster is required" };
}

export function raftMembershipImplementation(svc: RaftMembership, opts: MembershipGrpcOptions): RaftMembershipServer {
  return {
    join(call, callback) {
      const who = peerIdentity(call);
      if (!who) return callback(unauthenticated());
      if (!opts.isLeader()) return callback(notLeaderStatus(opts.leaderAddr()));
      svc.join(who.nodeId, call.request.addr).then(
        (res) => callback(null, res),
        (e: unknown) => callback(toGrpcStatus(e)),
      );
    },
    leave(call, callback) {
      const who = peerIdentity(call);
      if (!who) return callback(unauthenticated());
      if (!opts.isLeader()) return callback(notLeaderStatus(opts.leaderAddr()));
      svc.leave(who.nodeId).then(
        () => callback(null, {}),
        (e: unknown) => callback(toGrpcStatus(e)),
      );
    },
  };
}
