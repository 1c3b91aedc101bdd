import { ChorusError } from '@chorus/protocol';
import { hashPassword, verifyPassword } from './secrets';

describe('scrypt work per process', () => {
  it('runs a bounded number of password checks and refuses the excess at once with UNAVAILABLE and retry_after_ms', async () => {
    const stored = await hashPassword('correct-horse');
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        verifyPassword(i === 0 ? 'correct-horse' : `guess-${i}`, stored).then(
          (ok) => ({ ok, at: performance.now() - started }),
          (err: unknown) => ({ err, at: performance.now() - started }),
        ),
      ),
    );
    const refused = outcomes.filter((o): o is { err: unknown; at: number } => 'err' in o);
    const verified = outcomes.filter((o): o is { ok: boolean; at: number } => 'ok' in o);
    // 2 running + 6 queued are verified; the other 16 are refused without any scrypt.
    expect({ verified: verified.length, refused: refused.length }).toEqual({ verified: 8, refused: 16 });
    expect(verified[0]?.ok).toBe(true);
    expect(verified.slice(1).every((o) => !o.ok)).toBe(true);
    for (const r of refused) expect(r.err).toEqual(expect.objectContaining({ code: 'UNAVAILABLE', details: { retry_after_ms: expect.any(Number) } }));
    expect(refused[0]?.err).toBeInstanceOf(ChorusError);
    // Refusals do not wait for any scrypt to finish.
    const firstVerified = Math.min(...verified.map((o) => o.at));
    expect(Math.max(...refused.map((o) => o.at))).toBeLessThan(firstVerified);
    // The gate frees its slots: a later check runs normally.
    expect(await verifyPassword('correct-horse', stored)).toBe(true);
  });
});
