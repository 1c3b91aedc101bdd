import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

// `npm ci` on our build machines needs the other platforms' binary packages listed in package-lock.json
// (see scripts/lockfile-platforms.js). A dependency change that drops them must fail here, not in CI's install.
it('package-lock.json lists the platform packages npm ci needs', () => {
  const out = execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'lockfile-platforms.js'), '--check'], { encoding: 'utf8' });
  expect(out).toContain('lists every platform package');
});
