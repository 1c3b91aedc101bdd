import type { AppendInput, Appended, ChannelEntry, ChannelHistory, ChannelHistoryLimits, HistoryRead } from './channel-history';
import { readFrom } from './channel-history';

interface Channel {
  seq: number;
  lastMs: number;
  entries: ChannelEntry[];
  /** `${user_id}\n${clientMsgId}` → the seq and time it was appended with. */
  readonly dedupe: Map<string, { seq: number; timestamp: number }>;
}

/** The in-process history for standalone: one process, so a Map and synchronous steps are atomic. */
export class MemoryChannelHistory implements ChannelHistory {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly limits: ChannelHistoryLimits,
    private readonly clock: { now(): number } = Date,
  ) {}

  async append(sessionId: string, channel: string, input: AppendInput): Promise<Appended> {
    const c = this.channel(sessionId, channel);
    const now = this.clock.now();
    this.trim(c, now);
    const dedupeKey = input.clientMsgId === undefined ? undefined : `${input.publisher.user_id}\n${input.clientMsgId}`;
    if (dedupeKey !== undefined) {
      const prior = c.dedupe.get(dedupeKey);
      if (prior && prior.timestamp > now - this.limits.ttlMs) {
        return { seq: prior.seq, timestamp: prior.timestamp, duplicate: true, entry: c.entries.find((e) => e.seq === prior.seq) };
      }
    }
    // Timestamps never go backwards within a channel, so "younger than ttl" trims a prefix.
    const timestamp = Math.max(now, c.lastMs);
    const entry: ChannelEntry = { seq: ++c.seq, timestamp, publisher: { ...input.publisher }, data: structuredClone(input.data) };
    c.lastMs = timestamp;
    c.entries.push(entry);
    if (c.entries.length > this.limits.size) c.entries.splice(0, c.entries.length - this.limits.size);
    if (dedupeKey !== undefined) c.dedupe.set(dedupeKey, { seq: entry.seq, timestamp });
    return { seq: entry.seq, timestamp, duplicate: false, entry };
  }

  async read(sessionId: string, channel: string, since: number | undefined): Promise<HistoryRead> {
    const c = this.channels.get(`${sessionId}\n${channel}`);
    if (!c) return readFrom(0, [], since);
    this.trim(c, this.clock.now());
    return readFrom(c.seq, c.entries.map((e) => ({ ...e, data: structuredClone(e.data) })), since);
  }

  private channel(sessionId: string, channel: string): Channel {
    const key = `${sessionId}\n${channel}`;
    let c = this.channels.get(key);
    if (!c) {
      c = { seq: 0, lastMs: 0, entries: [], dedupe: new Map() };
      this.channels.set(key, c);
    }
    return c;
  }

  private trim(c: Channel, now: number): void {
    const cutoff = now - this.limits.ttlMs;
    const keep = c.entries.findIndex((e) => e.timestamp > cutoff);
    if (keep !== 0) c.entries.splice(0, keep < 0 ? c.entries.length : keep);
    for (const [key, d] of c.dedupe) if (d.timestamp <= cutoff) c.dedupe.delete(key);
  }
}
