// The grpc-js handlers of the CA service. Any manager hands out the root certificate; issuing
// writes the node to the store, so a non-leader answers with a redirect to the leader.
import type * as grpc from "@grpc/grpc-js";
import type { CAServer, IssueNodeCertificateRequest, IssueNodeCertificateResponse } from "../../proto/gen/ca.js";
import { toGrpcStatus } from "../controlapi/index.js";
import { notLeaderStatus } from "../leader-redirect.js";
import type { CAService } from "./ca-service.js";
import { peerIdentity } from "./peer-identity.js";

export interface CAGrpcOptions {
  isLeader(): boolean;
  leaderAddr(): string | null;
}

export function caServiceImplementation(svc: CAService, opts: CAGrpcOptions): CAServer {
  return {
    getRootCaCertificate(_call, callback) {
      try {
        callback(null, { certificate: svc.rootCertificate() });
      } catch (e) {
        callback(toGrpcStatus(e));
      }
    },
    issueNodeCertificate(
      call: grpc.ServerUnaryCall<IssueNodeCertificateRequest, IssueNodeCertificateResponse>,
      callback: grpc.sendUnaryData<IssueNodeCertificateResponse>,
    ) {
      if (!opts.isLeader()) {
        callback(notLeaderStatus(opts.leaderAddr()));
        return;
      }
      svc.issue(call.request, peerIdentity(call), call.getPeer()).then(
        (res) => callback(null, res),
        (e: unknown) => callback(toGrpcStatus(e)),
      );
    },
  };
}
