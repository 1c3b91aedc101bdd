import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { healthRoutes, roleOfCommand, SERVICE_ROLES } from './support/chorus-app';
import { ROOT } from './support/render';

// The image cannot be built here (no Docker engine): read the Dockerfile for the properties we rely on.

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
const stages: string[][] = [];
for (const l of lines) {
  if (l.startsWith('FROM ')) stages.push([l]);
  else stages[stages.length - 1]?.push(l); // global ARGs before the first FROM belong to no stage
}
const runtime = stages[stages.length - 1];
const instruction = (stage: string[], name: string) => stage.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());

describe('Dockerfile', () => {
  it('builds with npm ci and ships production dependencies only', () => {
    expect(lines.some((l) => /^RUN npm ci\b/.test(l) && !l.includes('--omit=dev'))).toBe(true);
    const copiedModules = instruction(runtime, 'COPY').find((c) => c.includes('node_modules'));
    const fromStage = copiedModules?.match(/--from=(\S+)/)?.[1];
    const source = stages.find((s) => s[0].endsWith(` AS ${fromStage}`)) ?? [];
    expect(instruction(source, 'RUN').join(' ')).toMatch(/npm ci --omit=dev/);
  });

  it('runs as a numeric non-root user (so runAsNonRoot can verify it)', () => {
    const user = instruction(runtime, 'USER').pop() ?? '';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
  });

  it('health-checks the live route and defaults to an app the image contains', () => {
    expect(instruction(runtime, 'HEALTHCHECK').join(' ')).toContain(healthRoutes().live);
    const cmd = JSON.parse(instruction(runtime, 'CMD').pop() ?? '[]') as string[];
    expect(roleOfCommand(cmd)?.role).toBe('gateway');
    for (const role of SERVICE_ROLES) expect(existsSync(join(ROOT, `apps/${role}/src/main.ts`))).toBe(true);
  });

  it('copies only what .dockerignore lets into the context', () => {
    const allowed = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = stages.flatMap((s) => instruction(s, 'COPY')).filter((c) => !c.includes('--from=')).flatMap((c) => c.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect({ src, allowed: allowed.includes(src) }).toEqual({ src, allowed: true });
      expect(existsSync(join(ROOT, src))).toBe(true);
    }
  });
});
