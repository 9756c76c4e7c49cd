// gRPC metadata keys shared by servers (managers) and their clients (agents, joining nodes, the
// daemon): the one place these names are spelled.

/**
 * Trailing metadata of an UNAVAILABLE answer from a manager that is not the leader: the leader's
 * host:port, so the caller reconnects there directly instead of through a forwarding hop.
 */
export const LEADER_ADDR_METADATA = "swarm-leader-addr";
