// The CA service as plain TypeScript over the store: the root certificate for joining nodes, and
// node certificates. A join (CSR + join token) creates the node with the token's role; a renewal
// (CSR + the caller's own certificate) gets the role the store now gives the node, which is how a
// promoted or demoted node receives its new certificate. Signing happens before any write, so a
// refused request leaves no trace.
import type { Cluster} from "../../proto/gen/objects.js";
import { Node } from "../../proto/gen/objects.js";
import type { IssueNodeCertificateRequest, IssueNodeCertificateResponse } from "../../proto/gen/ca.js";
import { IssuanceState, NodeAvailability, NodeMembership, NodeRole, NodeState } from "../../proto/gen/types.js";
import { StoreError, StoreErrorCode, type MemoryStore, type ReadView } from "../store/index.js";
import { signNodeCertificate, type NodeRoleName } from "./certificates.js";
import { parseJoinToken, tokensEqual } from "./join-token.js";
import type { PeerIdentity } from "./peer-identity.js";

/** Default lifetime of node certificates (SwarmKit's): 90 days. */
export const DEFAULT_NODE_CERT_EXPIRY_MS = 90 * 24 * 3600 * 1000;

export interface CAServiceOptions {
  store: MemoryStore;
  newId: () => string;
  now?: () => number;
}

const ROLE_NAMES: Record<NodeRole, NodeRoleName> = {
  [NodeRole.NODE_ROLE_WORKER]: "swarm-worker",
  [NodeRole.NODE_ROLE_MANAGER]: "swarm-manager",
  [NodeRole.UNRECOGNIZED]: "swarm-worker",
};

function invalid(message: string): StoreError {
  return new StoreError(StoreErrorCode.InvalidArgument, message);
}

function clusterOf(r: ReadView): Cluster {
  const c = r.list("cluster")[0] as Cluster | undefined;
  if (!c?.rootCa?.caCert.length) throw new StoreError(StoreErrorCode.Unavailable, "the cluster is still being initialized; retry shortly");
  return c;
}

/** The role a join token grants in cluster `c`; throws a clear error for any other token. */
function roleOfToken(c: Cluster, token: string): NodeRole {
  let parsed: { digest: string };
  try {
    parsed = parseJoinToken(token);
  } catch (e) {
    throw invalid((e as Error).message);
  }
  if (parsed.digest !== c.rootCa?.caCertHash) {
    throw invalid("the join token is for another cluster: its root CA digest does not match this cluster's");
  }
  const tokens = c.rootCa?.joinTokens;
  if (tokens?.manager && tokensEqual(token, tokens.manager)) return NodeRole.NODE_ROLE_MANAGER;
  if (tokens?.worker && tokensEqual(token, tokens.worker)) return NodeRole.NODE_ROLE_WORKER;
  throw invalid("the join token is not valid (it may have been rotated): get the current one with `swarm join-token worker|manager` on a manager");
}

export class CAService {
  private readonly store: MemoryStore;
  private readonly newId: () => string;
  private readonly now: () => number;

  constructor(opts: CAServiceOptions) {
    this.store = opts.store;
    this.newId = opts.newId;
    this.now = opts.now ?? Date.now;
  }

  /** PEM of the cluster's root CA certificate. */
  rootCertificate(): Buffer {
    return this.store.view((r) => Buffer.from(clusterOf(r).rootCa!.caCert));
  }

  /**
   * Signs the CSR. With a token: a new node of the token's role. Without: a renewal for `caller`
   * (the verified identity of the caller's certificate), with the role the store gives it now.
   */
  async issue(req: IssueNodeCertificateRequest, caller: PeerIdentity | null, remoteAddr: string): Promise<IssueNodeCertificateResponse> {
    if (req.csr.length === 0) throw invalid("invalid certificate signing request: csr is empty");
    const renewal = req.token === "";
    if (renewal && !caller) {
      throw new StoreError(StoreErrorCode.InvalidArgument, "a join token is required to join this cluster (or a valid node certificate to renew one)");
    }
    const { cluster, role, nodeId, existing } = this.store.view((r) => {
      const c = clusterOf(r);
      if (!renewal) return { cluster: c, role: roleOfToken(c, req.token), nodeId: this.newId(), existing: undefined };
      const node = r.get("node", caller!.nodeId) as Node | undefined;
      if (!node) throw new StoreError(StoreErrorCode.NotFound, `node ${caller!.nodeId} is not a member of this cluster`);
      return { cluster: c, role: node.role, nodeId: node.id, existing: node };
    });
    const certPem = await signNodeCertificate({
      rootCertPem: Buffer.from(cluster.rootCa!.caCert).toString(),
      rootKeyPem: Buffer.from(cluster.rootCa!.caKey).toString(),
      csrPem: Buffer.from(req.csr).toString(),
      nodeId,
      role: ROLE_NAMES[role],
      clusterId: cluster.id,
      now: new Date(this.now()),
      validityMs: cluster.spec?.caConfig?.nodeCertExpiryMs || DEFAULT_NODE_CERT_EXPIRY_MS,
    }).catch((e: Error) => {
      throw invalid(e.message);
    });
    const certificate = {
      role,
      csr: Buffer.from(req.csr),
      status: { state: IssuanceState.ISSUANCE_STATE_ISSUED, err: "" },
      certificate: Buffer.from(certPem),
      cn: nodeId,
    };
    await this.store.update((tx) => {
      if (existing) {
        const cur = tx.get("node", nodeId) as Node | undefined;
        if (!cur) throw new StoreError(StoreErrorCode.NotFound, `node ${nodeId} was removed from the cluster`);
        const next = Node.fromPartial(cur);
        next.certificate = certificate;
        tx.update("node", next);
        return;
      }
      const host = remoteAddr.replace(/^\[?(.*?)\]?:\d+$/, "$1");
      tx.create(
        "node",
        Node.fromPartial({
          id: nodeId,
          role,
          spec: {
            desiredRole: role,
            membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED,
            availability: req.availability === NodeAvailability.UNRECOGNIZED ? NodeAvailability.NODE_AVAILABILITY_ACTIVE : req.availability,
          },
          description: { hostname: req.hostname },
          status: { state: NodeState.NODE_STATE_UNKNOWN, message: "joined, waiting for its first session", addr: host },
          certificate,
        }),
      );
    });
    return { nodeId, clusterId: cluster.id, role, certificate: Buffer.from(certPem), rootCa: Buffer.from(cluster.rootCa!.caCert) };
  }
}
