export { createTestDatabase, testPostgresUrl, testRedisUrl, uniqueRedisPrefix, uniqueSuffix, type TestDatabase } from './infra';
export { waitFor, withDeadline } from './wait';
export { startCommand, startTsProcess, type RunningProcess } from './process';
export { standaloneDataDir } from './data-dir';
export { ManualClock, ManualTimers, type Clock } from './manual-clock';
export { TestJwksServer, signingKey, type TestSigningKey } from './jwks-server';
export { mulberry32 } from './random';
