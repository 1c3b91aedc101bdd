import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

/**
 * `@nestjs/throttler`'s in-memory storage (standalone), made to keep the contract the Redis storage keeps
 * (apps/gateway/src/limits/test/throttler-storage.contract.ts). Upstream keeps one block flag per key for every
 * throttler name, so a key blocked under one name was blocked under all: the WebSocket limiter counts every kind
 * under `conn:<socket>` with the kind as the name, and a chat flood refused the same socket's edits. Keys are
 * namespaced by name here, and `timeToBlockExpire` is 0 (not a negative number) while not blocked.
 */
export class MemoryThrottlerStorage implements ThrottlerStorage {
  private readonly inner = new ThrottlerStorageService();

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const record = await this.inner.increment(`${throttlerName}\u0000${key}`, ttl, limit, blockDuration, throttlerName);
    return { ...record, timeToBlockExpire: record.isBlocked ? Math.max(0, record.timeToBlockExpire) : 0 };
  }

  onApplicationShutdown(): void {
    this.inner.onApplicationShutdown();
  }
}
