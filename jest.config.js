// One Jest config for the whole monorepo. Tests are transpiled with SWC (type checking is `npm run typecheck`,
// which `npm test` runs first), so a suite starts in milliseconds instead of seconds.
const fs = require('node:fs');
const swc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
delete swc.$schema;

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/standalone', '<rootDir>/test', '<rootDir>/tools'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }],
    // jose ships only ES modules; Node itself require()s them (>= 20.19), Jest's module loader does not.
    '/node_modules/jose/.+\\.js$': ['@swc/jest', { ...swc, jsc: { ...swc.jsc, parser: { syntax: 'ecmascript' } }, swcrc: false }],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  moduleNameMapper: { '^@chorus/([a-z-]+)$': '<rootDir>/libs/$1/src', '^@chorus/([a-z-]+)/(.*)$': '<rootDir>/libs/$1/src/$2' },
  globalSetup: '<rootDir>/libs/testing/src/global-setup.ts',
  testTimeout: 30_000,
  // Real Postgres and Redis are shared by every suite; two workers keep this 2-core machine responsive.
  maxWorkers: process.env.JEST_MAX_WORKERS ?? 2,
};
