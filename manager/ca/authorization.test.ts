import type { PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { authorizationStatus, authorize, authorizedIdentity } from "./authorization.js";
import type { AuthorizationOptions, MethodPolicy } from "./authorization.js";
import { peerIdentity } from "./peer-identity.js";
import type { PeerIdentity } from "./peer-identity.js";

const POLICIES: Record<string, MethodPolicy> = {
  "/swarm.v1.CA/GetRootCACertificate": "public",
  "/swarm.v1.Control/ListNodes": ["swarm-manager"],
  "/swarm.v1.Dispatcher/Session": ["swarm-manager", "swarm-worker"],
  "/swarm.v1.Nobody/Call": [],
};
const OPTS: AuthorizationOptions = {
  policy: (path) => POLICIES[path],
  clusterId: () => "cluster-a",
  isRemoved: (nodeId) => nodeId === "gone",
};
const manager: PeerIdentity = { nodeId: "m1", role: "swarm-manager", clusterId: "cluster-a" };
const worker: PeerIdentity = { nodeId: "w1", role: "swarm-worker", clusterId: "cluster-a" };

function refusal(path: string, who: PeerIdentity | null, opts = OPTS) {
  const err = authorize(path, who, opts);
  return err === null ? null : { status: grpc.status[authorizationStatus(err)], code: err.code, message: err.message };
}

describe("authorize", () => {
  it("lets anyone call public methods", () => {
    expect(refusal("/swarm.v1.CA/GetRootCACertificate", null)).toBeNull();
    expect(refusal("/swarm.v1.CA/GetRootCACertificate", { ...worker, clusterId: "other" })).toBeNull();
  });

  it("lets allowed roles of this cluster through", () => {
    expect(refusal("/swarm.v1.Control/ListNodes", manager)).toBeNull();
    expect(refusal("/swarm.v1.Dispatcher/Session", worker)).toBeNull();
    expect(refusal("/swarm.v1.Dispatcher/Session", manager)).toBeNull();
  });

  it("refuses methods without a policy", () => {
    expect(refusal("/swarm.v1.Control/Unknown", manager)).toEqual({
      status: "PERMISSION_DENIED",
      code: "CA_PERMISSION_DENIED",
      message: "method /swarm.v1.Control/Unknown is not served here",
    });
  });

  it("needs a verified certificate for non-public methods", () => {
    expect(refusal("/swarm.v1.Dispatcher/Session", null)).toEqual({
      status: "UNAUTHENTICATED",
      code: "CA_UNAUTHENTICATED",
      message: "a client certificate issued by this cluster's CA is required (missing, expired or from another CA)",
    });
  });

  it("refuses certificates of another cluster", () => {
    expect(refusal("/swarm.v1.Dispatcher/Session", { ...worker, clusterId: "cluster-b" })).toEqual({
      status: "PERMISSION_DENIED",
      code: "CA_PERMISSION_DENIED",
      message: "certificate belongs to cluster cluster-b, not cluster-a",
    });
  });

  it("refuses roles the method does not allow", () => {
    expect(refusal("/swarm.v1.Control/ListNodes", worker)?.message).toBe(
      "role swarm-worker may not call /swarm.v1.Control/ListNodes",
    );
    expect(refusal("/swarm.v1.Nobody/Call", manager)?.message).toBe("role swarm-manager may not call /swarm.v1.Nobody/Call");
  });

  it("refuses removed nodes, whatever their role", () => {
    expect(refusal("/swarm.v1.Control/ListNodes", { ...worker, nodeId: "gone" })).toEqual({
      status: "PERMISSION_DENIED",
      code: "CA_PERMISSION_DENIED",
      message: "node gone was removed from the cluster",
    });
    expect(refusal("/swarm.v1.Dispatcher/Session", { ...worker, nodeId: "gone" }, { ...OPTS, isRemoved: undefined })).toBeNull();
  });

  it("is unavailable while the cluster ID is unknown", () => {
    expect(refusal("/swarm.v1.Dispatcher/Session", worker, { ...OPTS, clusterId: () => null })).toEqual({
      status: "UNAVAILABLE",
      code: "CA_NOT_READY",
      message: "cannot authorize /swarm.v1.Dispatcher/Session yet: this manager does not know its cluster ID",
    });
  });
});

function callWith(subject: Record<string, unknown> | null) {
  const sslPeerCertificate = subject === null ? undefined : ({ subject } as unknown as PeerCertificate);
  return { getAuthContext: () => (subject === null ? {} : { transportSecurityType: "ssl", sslPeerCertificate }) };
}

describe("peerIdentity", () => {
  it("reads CN, OU and O of the verified client certificate", () => {
    expect(peerIdentity(callWith({ CN: "n1", OU: "swarm-worker", O: "c1" }))).toEqual({
      nodeId: "n1",
      role: "swarm-worker",
      clusterId: "c1",
    });
  });

  it("is null without a verified certificate or for anything but a node certificate", () => {
    expect(peerIdentity(callWith(null))).toBeNull();
    expect(peerIdentity({ getAuthContext: () => null })).toBeNull();
    expect(peerIdentity(callWith({ CN: "n1", OU: "swarm-admin", O: "c1" }))).toBeNull();
    expect(peerIdentity(callWith({ CN: "n1", OU: ["swarm-worker", "swarm-manager"], O: "c1" }))).toBeNull();
    expect(peerIdentity(callWith({ CN: "n1", OU: "swarm-worker" }))).toBeNull();
    expect(peerIdentity(callWith({ CN: "", OU: "swarm-worker", O: "c1" }))).toBeNull();
  });

  it("authorizedIdentity returns it or throws UNAUTHENTICATED", () => {
    expect(authorizedIdentity(callWith({ CN: "n1", OU: "swarm-manager", O: "c1" })).role).toBe("swarm-manager");
    expect(() => authorizedIdentity(callWith(null))).toThrow(
      expect.objectContaining({ name: "UnauthenticatedError", code: "CA_UNAUTHENTICATED" }),
    );
  });
});
