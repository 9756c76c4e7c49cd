import { TLSSocket, type PeerCertificate } from "node:tls";
import type * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { connectionAuthContext, type AuthContext } from "./peer-identity.js";

/** A call as grpc-js's first server call layer: its auth context read from `socket` (counted). */
function callOn(socket: object | null, cn: string): grpc.ServerInterceptingCallInterface & { reads: number } {
  const call = {
    reads: 0,
    stream: socket ? { session: { socket } } : undefined,
    getAuthContext(): AuthContext {
      call.reads++;
      return { transportSecurityType: "ssl", sslPeerCertificate: { subject: { CN: cn } } as unknown as PeerCertificate };
    },
  };
  return call as unknown as grpc.ServerInterceptingCallInterface & { reads: number };
}

const tlsSocket = (): TLSSocket => Object.create(TLSSocket.prototype) as TLSSocket;

describe("connectionAuthContext", () => {
  it("reads a TLS connection's auth context on its first call only", () => {
    const one = tlsSocket();
    const first = callOn(one, "n1");
    const second = callOn(one, "n1");
    const auth = connectionAuthContext(first);
    expect(connectionAuthContext(second)).toBe(auth);
    expect([first.reads, second.reads]).toEqual([1, 0]);

    const other = callOn(tlsSocket(), "n2");
    expect(connectionAuthContext(other).sslPeerCertificate?.subject.CN).toBe("n2");
    expect(other.reads).toBe(1);
  });

  it("reads every time when the call shows no TLS socket", () => {
    for (const call of [callOn(null, "n1"), callOn({ remotePort: 1 }, "n1")]) {
      connectionAuthContext(call);
      connectionAuthContext(call);
      expect(call.reads).toBe(2);
    }
  });
});
