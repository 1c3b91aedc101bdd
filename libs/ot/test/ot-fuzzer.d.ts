// Minimal types for ot-fuzzer 1.3 (it ships none). Only what the fuzz test uses.
declare module 'ot-fuzzer' {
  interface OtFuzzer {
    /** Runs `iterations` rounds of apply/compose/invert/transform checks on an ottypes type. Throws on the first failure. */
    <Snap, Op>(type: object, genRandomOp: (doc: Snap) => [Op, Snap], iterations?: number): void;
    /** Seeded (SEED env, default 1) random integer 0 ≤ k < n. */
    randomInt(n: number): number;
    randomReal(): number;
  }
  const fuzzer: OtFuzzer;
  export = fuzzer;
}
