// Public entry of manager/ca: certificates, join tokens, unlock keys, peer identity, authorization, TLS.
export * from "./errors.js";
export { NodeRole, isNodeRole, type NodeRoleName } from "./roles.js";
export {
  CLOCK_SKEW_MS,
  NODE_CERT_VALIDITY_MS,
  ROOT_CA_NAME,
  ROOT_CA_VALIDITY_DAYS,
  certificateKeyMatches,
  createKeyAndCsr,
  createRootCA,
  signNodeCertificate,
  type CertificateAndKey,
} from "./certificates.js";
export {
  RENEWAL_WINDOW,
  ROOT_DIGEST_LENGTH,
  parseNodeCertificate,
  renewalDelayMs,
  rootDigest,
  verifyNodeCertificate,
  type NodeCertificateInfo,
} from "./node-certificate.js";
export {
  JOIN_TOKEN_PREFIX,
  generateJoinToken,
  maskJoinToken,
  parseJoinToken,
  tokensEqual,
  type JoinTokenParts,
} from "./join-token.js";
export {
  ENCRYPTED_PEM_LABEL,
  UNLOCK_KEY_PREFIX,
  UNLOCK_KEY_SUBSYSTEM,
  decryptPem,
  encryptPem,
  formatUnlockKey,
  generateUnlockKey,
  isEncryptedPem,
  isWrappedWithKek,
  parseUnlockKey,
  unwrapKey,
  wrapKey,
} from "./unlock-key.js";
export { identityOfCertificate, peerIdentity, type CallWithAuthContext, type PeerIdentity } from "./peer-identity.js";
export {
  CLIENT_CERTIFICATE_REQUIRED,
  authorizationStatus,
  authorize,
  authorizedIdentity,
  createAuthorizationInterceptor,
  type AuthorizationError,
  type AuthorizationOptions,
  type MethodPolicy,
} from "./authorization.js";
export {
  MANAGER_SERVER_NAME,
  NodeTls,
  bootstrapClientCredentials,
  managerChannelOptions,
  type NodeTlsMaterial,
} from "./tls.js";
export { CAService, DEFAULT_NODE_CERT_EXPIRY_MS, type CAServiceOptions } from "./ca-service.js";
export { caServiceImplementation, type CAGrpcOptions } from "./ca-grpc.js";
