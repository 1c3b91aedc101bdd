import { runAttack, type AttackInput } from './attack';

// The fuzz's attackers as a process of their own (started by test/fuzz/hostile-input.e2e-spec.ts): the input
// comes as JSON in FUZZ_ATTACK_INPUT, the result goes out as one line `FUZZ_RESULT {…}`.

async function main(): Promise<void> {
  const raw = process.env.FUZZ_ATTACK_INPUT;
  if (raw === undefined) throw new Error('Set FUZZ_ATTACK_INPUT to the attack as JSON.');
  const result = await runAttack(JSON.parse(raw) as AttackInput, () => process.stdout.write('FUZZ_STARTED\n'));
  process.stdout.write(`FUZZ_RESULT ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`FUZZ_FAILED ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
