import { DISCONNECT_CODES, disconnectNotice, ERROR_CODES, type ErrorCode } from '@chorus/protocol';
import { textType } from '@chorus/ot';
import { backoffDelay, opFromUtf16Change, reconnectStep, selectionFromUtf16, selectionToUtf16, TypedEmitter, utf16ChangesOf } from '@chorus/client';
import { SeqWindow } from '../src/seq-window';
import * as fc from 'fast-check';

const error = (code: ErrorCode, extra: { retry_after_ms?: number; disconnect?: ReturnType<typeof disconnectNotice> } = {}) => ({
  type: 'error' as const,
  code,
  message: code,
  retryable: ERROR_CODES[code].retryable,
  ...extra,
});
const half = () => 0.5;

describe('reconnect policy (docs/protocol.md, disconnect codes)', () => {
  it('every code of the reconnect range retries, every other one stops, by the range alone', () => {
    for (const [name, spec] of Object.entries(DISCONNECT_CODES)) {
      const step = reconnectStep({ kind: 'lost', reason: 'io server disconnect', notice: disconnectNotice(name as keyof typeof DISCONNECT_CODES, 'x') }, 0, half);
      expect([name, step.action]).toEqual([name, spec.reconnect ? 'retry' : 'stop']);
    }
    // A code newer than this SDK: its range decides.
    const unknown = (code: number) => reconnectStep({ kind: 'lost', reason: 'x', notice: { type: 'disconnect_notice', code, name: 'future', reason: 'x', reconnect: code < 4500 } }, 0, half).action;
    expect([unknown(4321), unknown(4777)]).toEqual(['retry', 'stop']);
  });

  it('reauthenticate (4002, the token expired) reconnects at once on the same gateway, then backs off', () => {
    const expired = { kind: 'lost' as const, reason: 'x', notice: disconnectNotice('reauthenticate', 'expired') };
    expect(reconnectStep(expired, 0, () => 0.5)).toEqual({ action: 'retry', delayMs: 125, rotate: false });
    expect(reconnectStep(expired, 3, half)).toEqual({ action: 'retry', delayMs: backoffDelay(3, half), rotate: false });
  });

  it('draining reconnects at once (0–1 s of jitter) on another gateway; retry_after_ms replaces the backoff', () => {
    const draining = reconnectStep({ kind: 'lost', reason: 'x', notice: disconnectNotice('draining', 'bye') }, 0, () => 0.99);
    expect(draining).toEqual({ action: 'retry', delayMs: 990, rotate: true });
    // Every gateway refusing while it drains: after two quick tries, the backoff again.
    expect(reconnectStep({ kind: 'refused', error: error('UNAVAILABLE') }, 6, half)).toEqual({ action: 'retry', delayMs: backoffDelay(6, half), rotate: true });
    const withHint = reconnectStep({ kind: 'lost', reason: 'x', notice: disconnectNotice('server_error', 'x', { retry_after_ms: 4_321 }) }, 0, half);
    expect(withHint).toMatchObject({ action: 'retry', delayMs: 4_321 });
    expect(reconnectStep({ kind: 'refused', error: error('UNAVAILABLE', { disconnect: disconnectNotice('draining', 'x') }) }, 1, () => 0.2)).toEqual({ action: 'retry', delayMs: 200, rotate: true });
  });

  it('a refused handshake: retryable codes back off, others stop; UNAUTHENTICATED retries once with a token provider only', () => {
    expect(reconnectStep({ kind: 'refused', error: error('SERVER_ERROR', { disconnect: disconnectNotice('server_error', 'x') }) }, 0, half).action).toBe('retry');
    expect(reconnectStep({ kind: 'refused', error: error('VALIDATION_ERROR', { disconnect: disconnectNotice('protocol_mismatch', 'x') }) }, 0, half).action).toBe('stop');
    expect(reconnectStep({ kind: 'refused', error: error('RATE_LIMITED', { retry_after_ms: 100, disconnect: disconnectNotice('connection_limit', 'x') }) }, 0, half).action).toBe('stop');
    const unauth = { kind: 'refused' as const, error: error('UNAUTHENTICATED', { disconnect: disconnectNotice('unauthenticated', 'x') }) };
    expect(reconnectStep(unauth, 0, half).action).toBe('stop');
    expect(reconnectStep(unauth, 0, half, { canRefreshToken: true }).action).toBe('retry');
    expect(reconnectStep(unauth, 1, half, { canRefreshToken: true }).action).toBe('stop');
  });

  it('backoff doubles up to its ceiling, jittered within [d/2, d]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (attempt, r) => {
        const ceiling = Math.min(10_000, 250 * 2 ** attempt);
        const d = backoffDelay(attempt, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(d).toBeLessThanOrEqual(ceiling);
      }),
      { seed: 3 },
    );
    expect(reconnectStep({ kind: 'unreachable', message: 'ECONNREFUSED' }, 2, half)).toEqual({ action: 'retry', delayMs: 750, rotate: true });
  });
});

describe('SeqWindow: each seq delivered once, whatever the order', () => {
  it('marks new seqs once, folds gaps, and a join covers everything up to its seq', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 200 }), fc.integer({ min: 0, max: 60 }), (seqs, joinedAt) => {
        const w = new SeqWindow(0);
        const delivered: number[] = [];
        const half = Math.floor(seqs.length / 2);
        seqs.slice(0, half).forEach((s) => w.mark(s) && delivered.push(s));
        w.advanceTo(joinedAt);
        seqs.slice(half).forEach((s) => w.mark(s) && delivered.push(s));
        expect(new Set(delivered).size).toBe(delivered.length);
        const expected = new Set([...seqs.slice(0, half), ...seqs.slice(half).filter((s) => s > joinedAt)]);
        expect(new Set(delivered)).toEqual(expected);
        expect(w.high).toBe(Math.max(0, joinedAt, ...seqs));
      }),
      { seed: 5 },
    );
  });
});

describe('UTF-16 ↔ code point helpers', () => {
  it('an editor change becomes the op that makes the same text, and back', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '😀', '𠀀', 'é', '\n'), maxLength: 12 });
    fc.assert(
      fc.property(text, text, fc.nat(), fc.nat(), (doc, insert, x, y) => {
        // Change boundaries on whole characters (an editor never splits a surrogate pair).
        const stops = [0];
        for (const ch of doc) stops.push(stops[stops.length - 1] + ch.length);
        const [from, to] = [stops[x % stops.length], stops[y % stops.length]].sort((p, q) => p - q);
        const op = opFromUtf16Change(doc, { from, to, insert });
        const expected = doc.slice(0, from) + insert + doc.slice(to);
        expect(textType.apply(doc, op)).toBe(expected);
        // Applying the UTF-16 changes in reverse order (each relative to the original) gives the same text.
        let viaChanges = doc;
        for (const c of [...utf16ChangesOf(doc, op)].reverse()) viaChanges = viaChanges.slice(0, c.from) + c.insert + viaChanges.slice(c.to);
        expect(viaChanges).toBe(expected);
      }),
      { seed: 11 },
    );
  });

  it('selections convert both ways on astral text', () => {
    const doc = 'a😀b𠀀c';
    expect(selectionFromUtf16(doc, { anchor: 3, head: 6 })).toEqual({ anchor: 2, head: 4 });
    expect(selectionToUtf16(doc, { anchor: 2, head: 4 })).toEqual({ anchor: 3, head: 6 });
    expect(selectionToUtf16(doc, { anchor: 99, head: 0 })).toEqual({ anchor: doc.length, head: 0 });
  });
});

describe('TypedEmitter', () => {
  class Probe extends TypedEmitter<{ ping: { n: number } }> {
    fire(n: number) {
      this.emit('ping', { n });
    }
  }

  it('delivers to every listener; a throwing listener is reported and does not stop the others', () => {
    const errors: string[] = [];
    const probe = new Probe((_err, event) => errors.push(event));
    const seen: number[] = [];
    probe.on('ping', () => {
      throw new Error('app bug');
    });
    const off = probe.on('ping', (p) => seen.push(p.n));
    probe.once('ping', (p) => seen.push(p.n * 10));
    probe.fire(1);
    off();
    probe.fire(2);
    expect(seen).toEqual([1, 10]);
    expect(errors).toEqual(['ping', 'ping']);
    expect(probe.listenerCount('ping')).toBe(1);
  });
});
