// Answers for calls that only the leader serves (CA issuance, Raft membership, the dispatcher):
// a non-leader refuses with UNAVAILABLE and names the leader in trailing metadata, so the caller
// moves there itself.
import * as grpc from "@grpc/grpc-js";
import { LEADER_ADDR_METADATA } from "../proto/metadata.js";

/** The UNAVAILABLE status a non-leader answers with, naming the leader when it is known. */
export function notLeaderStatus(leaderAddr: string | null): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (leaderAddr) metadata.set(LEADER_ADDR_METADATA, leaderAddr);
  return {
    code: grpc.status.UNAVAILABLE,
    details: leaderAddr ? `not the leader: the leader is at ${leaderAddr}` : "no leader: the managers are electing one, retry shortly",
    metadata,
  };
}
