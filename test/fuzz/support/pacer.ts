import { DEFAULT_BUDGETS, limitKindOf, type LimitKind } from '../../../apps/gateway/src/limits/ws-rate-limiter';

/**
 * Keeps one attacking socket within its share of the gateway's message budgets (per connection, and per user
 * split among the user's sockets), so the fuzz reaches the validators instead of only the rate limiter. The
 * limiter itself is tested by flooding elsewhere. Fixed windows, like the server's; the server's window opens
 * when its first message arrives, slightly after ours, so ours waits a margin longer.
 */
export class BudgetPacer {
  private readonly windows = new Map<LimitKind, { start: number; count: number }>();
  private static readonly MARGIN_MS = 100;

  constructor(private readonly socketsPerUser: number) {}

  private allowance(kind: LimitKind): number {
    const b = DEFAULT_BUDGETS[kind];
    return Math.max(1, Math.min(b.perConnection, Math.floor(b.perUser / this.socketsPerUser)) - 1);
  }

  canSend(event: string, now: number): boolean {
    const kind = limitKindOf(event);
    const w = this.windows.get(kind);
    return !w || now >= w.start + DEFAULT_BUDGETS[kind].windowMs + BudgetPacer.MARGIN_MS || w.count < this.allowance(kind);
  }

  record(event: string, now: number): void {
    const kind = limitKindOf(event);
    const w = this.windows.get(kind);
    if (!w || now >= w.start + DEFAULT_BUDGETS[kind].windowMs + BudgetPacer.MARGIN_MS) this.windows.set(kind, { start: now, count: 1 });
    else w.count++;
  }
}
