/** A random id: RFC 4122 v4 from crypto.randomUUID when the random source is the default one and it exists. */
export function randomId(random: () => number = Math.random): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (random === Math.random && c?.randomUUID) return c.randomUUID();
  let out = '';
  for (let i = 0; i < 32; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}
