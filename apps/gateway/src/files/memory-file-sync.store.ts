import type { FileHost } from '@chorus/protocol';
import { OFFER_TTL_MS, type FileSyncStore, type OfferedFile } from './file-sync.store';

/** The store in one process (standalone without Redis). */
export class MemoryFileSyncStore implements FileSyncStore {
  private readonly hosts = new Map<string, FileHost>();
  private readonly offers = new Map<string, { files: ReadonlyMap<string, OfferedFile>; expiresAt: number }>();
  private readonly offerers = new Map<string, { host: FileHost; expiresAt: number }>();

  async host(sessionId: string): Promise<FileHost | null> {
    return this.hosts.get(sessionId) ?? null;
  }

  async setHost(sessionId: string, host: FileHost): Promise<void> {
    this.hosts.set(sessionId, host);
  }

  async clearHost(sessionId: string, peerId: string): Promise<boolean> {
    if (this.hosts.get(sessionId)?.peer_id !== peerId) return false;
    this.hosts.delete(sessionId);
    return true;
  }

  async offer(sessionId: string, hostPeer: string, guestPeer: string, files: ReadonlyMap<string, OfferedFile>): Promise<void> {
    const now = Date.now();
    for (const [key, o] of this.offers) if (o.expiresAt <= now) this.offers.delete(key);
    this.offers.set(offerKey(sessionId, hostPeer, guestPeer), { files: new Map(files), expiresAt: now + OFFER_TTL_MS });
  }

  async offered(sessionId: string, hostPeer: string, guestPeer: string, paths: readonly string[]): Promise<Map<string, OfferedFile>> {
    const o = this.offers.get(offerKey(sessionId, hostPeer, guestPeer));
    const found = new Map<string, OfferedFile>();
    if (!o || o.expiresAt <= Date.now()) return found;
    for (const p of paths) {
      const f = o.files.get(p);
      if (f) found.set(p, f);
    }
    return found;
  }

  async setOfferer(sessionId: string, guestPeer: string, host: FileHost): Promise<void> {
    const now = Date.now();
    for (const [key, o] of this.offerers) if (o.expiresAt <= now) this.offerers.delete(key);
    this.offerers.set(JSON.stringify([sessionId, guestPeer]), { host, expiresAt: now + OFFER_TTL_MS });
  }

  async offerer(sessionId: string, guestPeer: string): Promise<FileHost | null> {
    const o = this.offerers.get(JSON.stringify([sessionId, guestPeer]));
    return o && o.expiresAt > Date.now() ? o.host : null;
  }
}

const offerKey = (sessionId: string, hostPeer: string, guestPeer: string) => JSON.stringify([sessionId, hostPeer, guestPeer]);
