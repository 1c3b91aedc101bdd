// node bench/lib/cpuprofile-top.mjs file.cpuprofile [N]: the functions with the most self time, and the source
// files (self time summed), of a V8 CPU profile (--cpu-prof, or a bench's BENCH_CPU_PROFILE).
import console from 'node:console';
import { readFileSync } from 'node:fs';
import process from 'node:process';

const [file, n = '25'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
const deltas = profile.timeDeltas;
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fns = new Map();
const files = new Map();
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame;
  const short = url.replace(/^.*\/(node_modules\/)/, '$1').replace(/^file:\/\/.*\/wt-[^/]+\//, '');
  const key = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  const f = short.replace(/^(node_modules\/(@[^/]+\/)?[^/]+).*$/, '$1') || '(native/vm)';
  files.set(f, (files.get(f) ?? 0) + us);
}
const show = (title, map) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
};
show('self time by function', fns);
show('self time by file or package', files);

// The callers (up the stack, first frame of ours or of a package) of the heaviest native functions.
const parent = new Map();
for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
const label = (node) => `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*\/(node_modules\/)/, '$1').replace(/^file:\/\/.*\/wt-[^/]+\//, '')}:${node.callFrame.lineNumber + 1}`;
const callers = new Map();
for (const [id, us] of self) {
  const node = byId.get(id);
  if (node.callFrame.url !== '' || ['(garbage collector)', '(idle)', '(program)', '(root)'].includes(node.callFrame.functionName)) continue;
  let up = parent.get(id);
  const chain = [];
  while (up !== undefined && chain.length < 3) {
    const u = byId.get(up);
    if (u.callFrame.url !== '' && !u.callFrame.url.startsWith('node:')) chain.push(label(u));
    up = parent.get(up);
  }
  const key = `${node.callFrame.functionName} <- ${chain.join(' <- ')}`;
  callers.set(key, (callers.get(key) ?? 0) + us);
}
show('native self time by caller', callers);
