export { ASYMMETRIC_ALGORITHMS, AccessTokenVerifier, DEFAULT_CLAIMS, type AccessKeySource, type AccessVerifierOptions, type AsymmetricAlgorithm, type ClaimMapping, type VerifiedAccess } from './access-verifier';
export { Hs256Tokens, TokenError, type JwtClaims, type TokenRefusal, type TokenSigner, type TokenVerifier } from './jwt';
export { IdentityTokens, type Identity, type JoinGrant } from './identity';
export { ACTIONS, POLICY, authorize, authorizeGrant, can, channelPolicyTable, channelPublishAction, mayManage, policyTable, type Action } from './policy';
export { INVITE_CODE_LENGTH, hashPassword, hashToken, inviteCodePattern, newInviteCode, newSecretToken, verifyPassword } from './secrets';
export { iceServersFor, turnCredentials, type IceServer, type IceSettings } from './turn';
export { authorizeFile, matchesGlob, normalizeFileRules, resolveFileAccess, type FileAction, type FileDecision, type FilePrincipal } from './file-rules';
