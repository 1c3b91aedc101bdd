/**
 * A seeded random source for the fuzz suites: the same seed replays the same run, byte for byte. The seed comes
 * from FUZZ_SEED when set (to replay a failure), else a fixed default, and every failure message names it.
 */
export class Seeded {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  static fromEnv(fallback: number): Seeded {
    const raw = process.env.FUZZ_SEED;
    const seed = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : fallback;
    return new Seeded(seed);
  }

  /** mulberry32: small, fast, good enough to choose test cases. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, maxInclusive: number): number {
    return min + Math.floor(this.next() * (maxInclusive - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}
