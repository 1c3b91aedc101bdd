#!/usr/bin/env node
'use strict';
// Adds the platform-specific optional packages of other operating systems to package-lock.json.
//
// Why: the npm registry reachable from our build machines serves only the Linux x64 builds of packages that
// ship prebuilt binaries (@swc/core-*, @unrs/resolver-binding-*). `npm install` then leaves the other platforms'
// optional dependencies out of the lockfile, and `npm ci` refuses the lockfile as "out of sync". A lock entry
// that names the package's os/cpu lets `npm ci` see it is for another platform and skip it without fetching.
//
// Run after any `npm install` that changes dependencies: `npm run lockfile:platforms` (idempotent).
// `--check` exits 1 (listing what is missing) instead of writing.
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openharmony', 'sunos', 'netbsd', 'openbsd', 'aix'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'loong64', 'riscv64', 'wasm32', 'mips64el'];

/** os/cpu/libc from a platform package name such as core-linux-arm64-musl or resolver-binding-win32-x64-msvc. */
function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p));
  if (!os || !cpu) return undefined;
  const libc = os === 'linux' ? (parts.includes('musl') || parts.some((p) => p.startsWith('musl')) ? 'musl' : 'glibc') : undefined;
  return { os: [os], cpu: [cpu], ...(libc ? { libc: [libc] } : {}) };
}

const missing = [];
for (const [location, entry] of Object.entries(packages)) {
  if (!location || !entry.optionalDependencies) continue;
  const base = location.slice(0, location.lastIndexOf('node_modules/'));
  for (const [dep, spec] of Object.entries(entry.optionalDependencies)) {
    const target = `${base}node_modules/${dep}`;
    if (packages[target] || packages[`${location}/node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+/.test(spec)) continue; // only exact-version platform binaries
    missing.push(dep);
    packages[target] = { version: spec.replace(/^[=v]/, ''), ...(entry.dev ? { dev: true } : {}), optional: true, ...platform };
  }
}

if (process.argv.includes('--check')) {
  if (missing.length > 0) {
    console.error(`package-lock.json lacks ${missing.length} platform packages (${missing.slice(0, 5).join(', ')}…): run npm run lockfile:platforms`);
    process.exit(1);
  }
  console.log('package-lock.json lists every platform package.');
} else {
  const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
  lock.packages = sorted;
  fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(missing.length > 0 ? `added ${missing.length} platform packages: ${missing.join(', ')}` : 'nothing to add');
}
