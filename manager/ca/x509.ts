// The only entry to @peculiar/x509: loads reflect-metadata first (x509 throws at import without it)
// and selects Node's WebCrypto as its crypto provider.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
