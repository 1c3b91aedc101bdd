import type { FileHost } from '@chorus/protocol';

/** What a manifest said of one file, as the server keeps it to check requests and chunks against. */
export interface OfferedFile {
  readonly hash: string;
  readonly size: number;
}

/**
 * The file sync state every gateway shares (Redis across gateways, memory standalone): each session's file host,
 * and per (session, host, guest) the manifest the host last sent that guest — a guest may request only its paths,
 * and the host may send only those. Offers expire (OFFER_TTL_MS) so an abandoned sync costs nothing for long.
 */
export interface FileSyncStore {
  host(sessionId: string): Promise<FileHost | null>;
  setHost(sessionId: string, host: FileHost): Promise<void>;
  /** Clears the session's host if it is `peerId` (a peer that left stops hosting; another's hosting is kept). */
  clearHost(sessionId: string, peerId: string): Promise<boolean>;
  /** Replaces what `hostPeer` offered `guestPeer`. */
  offer(sessionId: string, hostPeer: string, guestPeer: string, files: ReadonlyMap<string, OfferedFile>): Promise<void>;
  /** The offered entries of `paths` (absent: not in the manifest that guest was sent). */
  offered(sessionId: string, hostPeer: string, guestPeer: string, paths: readonly string[]): Promise<Map<string, OfferedFile>>;
  /** Remembers which host last sent `guestPeer` a manifest (the cache answers for it once that host is gone). */
  setOfferer(sessionId: string, guestPeer: string, host: FileHost): Promise<void>;
  offerer(sessionId: string, guestPeer: string): Promise<FileHost | null>;
}

/** An offer lives this long after the manifest was sent (a sync of a big project takes minutes, not hours). */
export const OFFER_TTL_MS = 6 * 3600 * 1000;
