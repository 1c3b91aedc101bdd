import { createHash, randomBytes, randomInt, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { ChorusError } from '@chorus/protocol';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

// scrypt parameters: N=2^15, r=8 → 32 MiB of memory per hash, ~50-100 ms on this class of machine: memory-hard
// enough to make offline guessing expensive, cheap enough for a join flow.
const PARAMS = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 32;

/**
 * Bounds the scrypt work of one process: at most `maxRunning` hashes at once (each holds 32 MiB and a libuv
 * thread; the default pool has 4 and fs/dns need them too) and `maxWaiting` queued behind them. Past that a
 * request is refused at once with UNAVAILABLE and `retry_after_ms` instead of queuing without bound: a burst of
 * guesses then costs milliseconds per refusal, not seconds of latency for everyone's joins.
 */
export class WorkGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly maxRunning: number,
    private readonly maxWaiting: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxRunning) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new ChorusError('UNAVAILABLE', 'Too many password checks in progress; retry in a moment.', { retry_after_ms: 250 });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), so a newcomer cannot overtake the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

const scryptGate = new WorkGate(2, 6);

/** `scrypt$N$r$p$salt$hash`, all self-describing so parameters can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptGate.run(() => scrypt(password, salt, KEYLEN, PARAMS));
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptGate.run(() => scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: PARAMS.maxmem }));
  return timingSafeEqual(expected, actual);
}

/** An unguessable bearer token: 192 random bits. */
export function newSecretToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Tokens are stored as SHA-256: they carry ≥128 random bits, so a fast hash suffices (no dictionary to attack). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

// Unambiguous alphabet for codes people type (no 0/O, 1/I/L).
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const INVITE_CODE_LENGTH = 6;

/** A short human code such as `K7M2QX` (31^6 ≈ 887 million; redemption is rate-limited against guessing). */
export function newInviteCode(): string {
  let code = '';
  for (let i = 0; i < INVITE_CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

export const inviteCodePattern = new RegExp(`^[${CODE_ALPHABET}]{${INVITE_CODE_LENGTH}}$`);
