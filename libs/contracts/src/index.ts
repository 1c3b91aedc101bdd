export { type MembershipChange, type SessionApi, type SessionPattern } from './session.contract';
export { TypedClient } from './typed-client';
