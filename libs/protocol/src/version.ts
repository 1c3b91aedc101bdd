/**
 * The wire protocol version. A client sends it in the Socket.IO handshake (`auth.protocol_version`); the
 * server answers with `hello` or refuses the connection with VALIDATION_ERROR on `protocol_version`.
 * Bump it on any incompatible change to a message in this library.
 */
export const PROTOCOL_VERSION = 1 as const;
