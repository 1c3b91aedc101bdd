import type { Clock } from './presence.types';

/** A clock tests move by hand: time-based logic (leases, idle, typing, coalescing) is tested without sleeping. */
export class ManualClock implements Clock {
  constructor(private current = 1_700_000_000_000) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): number {
    this.current += ms;
    return this.current;
  }
}
