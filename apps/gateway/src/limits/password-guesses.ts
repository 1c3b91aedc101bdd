import { createHash } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import { ChorusError } from '@chorus/protocol';
import type { AttemptBudget, Budget } from './attempt-budget';

export interface PasswordGuessLimits {
  /** Wrong guesses one user, and one client address, may make at one secret per window. */
  readonly perClient: number;
  readonly perClientWindowMs: number;
  /** Wrong guesses at one secret from all clients together per window: bounds a guesser with many accounts or addresses. */
  readonly perSecret: number;
  readonly perSecretWindowMs: number;
}

/** Who is guessing: the verified user and the client address (TRUSTED_PROXIES applied; IPv6 by /64). */
export interface Guesser {
  readonly userId: string;
  readonly address: string;
}

/**
 * Limits wrong guesses at a password (a session's, an invite's), across every gateway. Each attempt carrying a
 * password is counted before it reaches the session service, so a burst cannot slip past the check while the
 * first guesses are still being verified; an attempt that did not turn out to be a wrong password (success,
 * unknown session, full, unavailable) is given back, so joining with the right password costs nothing. Once a
 * budget is spent even the right password is refused until its window ends: otherwise the answer would still
 * tell a guesser when it hit. The per-secret budget also means a guesser can lock newcomers out of one session
 * for a window; participants rejoin without a password and are unaffected.
 */
export class PasswordGuesses {
  constructor(
    private readonly budget: AttemptBudget,
    private readonly limits: PasswordGuessLimits,
    private readonly logger: LoggerService,
  ) {}

  /** `secret`: what is guessed at, e.g. `session:<id>`; hashed, so an invite token never becomes a Redis key. */
  async attempt<T>(secret: string, guesser: Guesser, verify: () => Promise<T>): Promise<T> {
    const scope = `pw:${createHash('sha256').update(secret).digest('base64url').slice(0, 22)}`;
    const budgets: Budget[] = [
      { key: scope, limit: this.limits.perSecret, windowMs: this.limits.perSecretWindowMs },
      { key: `${scope}:u:${guesser.userId}`, limit: this.limits.perClient, windowMs: this.limits.perClientWindowMs },
      { key: `${scope}:a:${guesser.address}`, limit: this.limits.perClient, windowMs: this.limits.perClientWindowMs },
    ];
    const taken = await this.budget.take(budgets).catch((err: unknown) => {
      // Fail closed: without the counter, guesses would be unlimited.
      this.logger.error(`Password guess budget unavailable: ${(err as Error).message}`, undefined, 'PasswordGuesses');
      throw new ChorusError('UNAVAILABLE', 'Cannot check passwords right now; retry shortly.', { retry_after_ms: 1_000 });
    });
    if (!taken.ok) {
      throw new ChorusError('RATE_LIMITED', `Too many wrong passwords; retry in ${Math.ceil(taken.retryAfterMs / 1000)} s.`, { retry_after_ms: taken.retryAfterMs });
    }
    let wrong = false;
    try {
      return await verify();
    } catch (err) {
      // PERMISSION_DENIED is the only refusal of a join or redemption that carries a password: the password was wrong.
      wrong = ChorusError.from(err).code === 'PERMISSION_DENIED';
      throw err;
    } finally {
      if (!wrong) {
        await this.budget.giveBack(budgets.map((b) => b.key)).catch((err: unknown) => {
          this.logger.warn(`Could not give back a password attempt (it counts until its window ends): ${(err as Error).message}`, 'PasswordGuesses');
        });
      }
    }
  }
}
