// `npm run agent:example -- --session <id> --token <agent access token> [--url http://localhost:3000]`: a
// deterministic example agent on @chorus/client (docs/agents.md). Get its token as the session's owner:
//   curl -XPOST $URL/api/v1/collaboration/sessions/$SESSION/agents -H "authorization: Bearer $OWNER" \
//     -H 'content-type: application/json' -d '{"name":"Example agent"}'   # → access_token
// It takes every prompt queued for it (or for any agent) — pushed: `prompt_claim {wait: true}` answers a prompt
// or arms the wait, and the gateway pushes `prompt_assigned` when one comes (no polling) —, says what it is doing, runs a pretend tool (a word
// count of the open document), streams a summary in chunks, appends a line to the document, and completes.
import { ChorusClient, type ChorusSession } from '@chorus/client';
import type { AssignedPrompt } from '@chorus/protocol';

const DOC = 'main.txt';
const CHUNK = 12;

function arg(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : (process.env[`CHORUS_${name.toUpperCase()}`] ?? fallback);
  if (value === undefined) throw new Error(`--${name} is required (or CHORUS_${name.toUpperCase()})`);
  return value;
}

/** What the agent answers: the same text for the same prompt and document, every time. */
export function answer(prompt: string, text: string): { tool: string; summary: string } {
  const words = text.split(/\s+/).filter((w) => w.length > 0).length;
  const lines = text.length === 0 ? 0 : text.split('\n').length;
  const first = text.split('\n').find((l) => l.trim().length > 0)?.trim() ?? '(empty)';
  return { tool: JSON.stringify({ words, lines }), summary: `You asked: "${prompt}". ${DOC} has ${lines} lines and ${words} words; it starts with "${first.slice(0, 60)}".` };
}

async function work(session: ChorusSession, prompt: AssignedPrompt): Promise<void> {
  const id = prompt.message_id;
  await session.prompts.status('thinking', `reading ${DOC}`);
  const doc = await session.document(DOC);
  await session.prompts.output(id, 'tool_start', 0, JSON.stringify({ tool: 'word_count', doc: DOC }));
  const { tool, summary } = answer(prompt.content, doc.text);
  await session.prompts.output(id, 'tool_result', 1, tool);
  let index = 2;
  for (let at = 0; at < summary.length; at += CHUNK) await session.prompts.output(id, 'partial_response', index++, summary.slice(at, at + CHUNK));
  await session.prompts.status('editing', DOC);
  const codePoints = [...doc.text].length;
  doc.edit(codePoints > 0 ? [codePoints, `\n// summarised for ${prompt.display_name}`] : [`// summarised for ${prompt.display_name}`]);
  await session.prompts.output(id, 'response', index, summary);
  await session.prompts.complete(id);
  await session.prompts.status('idle');
}

async function main(): Promise<void> {
  const url = arg('url', 'http://localhost:3000');
  const client = new ChorusClient({ url, token: arg('token') });
  const session = client.session(arg('session'));
  await session.join();
  process.stdout.write(`example agent joined ${session.id} on ${url}\n`);
  // One prompt at a time. A claim with `wait` answers the next prompt (or the one this agent holds), or null and
  // arms the wait: the gateway then pushes `prompt_assigned`, which starts the loop again (the prompt is leased
  // to this agent, so the next claim answers it). A (re)join re-arms the wait on the new connection.
  let busy = false;
  let again = false;
  const drain = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      for (;;) {
        again = false;
        const prompt = await session.prompts.claim({ wait: true });
        if (prompt !== null) {
          await work(session, prompt);
          process.stdout.write('answered a prompt\n');
        } else if (!again) break;
      }
    } catch (err) {
      // E.g. CONFLICT: the lease lapsed and another agent took the prompt over. Logged; the wait is re-armed.
      process.stderr.write(`prompt failed: ${(err as Error).message}\n`);
      setTimeout(() => void drain(), 1_000);
    } finally {
      busy = false;
    }
  };
  session.prompts.on('assigned', () => void drain());
  session.on('joined', () => void drain());
  await drain();
  process.on('SIGINT', () => {
    client.close();
    process.exit(0);
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
