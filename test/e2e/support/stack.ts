import { Logger } from '@nestjs/common';
import { loadConfig } from '@chorus/config';
import { createTestDatabase, testRedisUrl, uniqueRedisPrefix, type TestDatabase } from '@chorus/testing';
import { startChorus, type RunningChorus } from '../../../standalone/chorus';
import { CaptureLogger } from './capture-logger';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestStack {
  readonly url: string;
  /** Where /metrics and /health/* are served: the admin listener with ADMIN_PORT, else `url`. */
  readonly adminUrl: string;
  readonly db: TestDatabase;
  readonly logs: CaptureLogger;
  readonly chorus: RunningChorus;
  stop(): Promise<void>;
}

/**
 * The whole product in this process against the real Postgres (a fresh database) and, with `redis: true`,
 * the real Redis under a unique prefix (Redis Streams transport, Redis rate limits) — otherwise the in-process
 * equivalents. Every log line is captured for inspection.
 */
export async function startTestStack(label: string, options: { redis?: boolean; env?: Record<string, string> } = {}): Promise<TestStack> {
  const db = await createTestDatabase(label);
  const logs = new CaptureLogger();
  const config = loadConfig('standalone', {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: db.url,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'verbose',
    ...(options.redis ? { REDIS_URL: testRedisUrl(), REDIS_PREFIX: uniqueRedisPrefix(label) } : {}),
    ...options.env,
  });
  Logger.overrideLogger(logs);
  const chorus = await startChorus(config, logs);
  return {
    url: `http://127.0.0.1:${chorus.port}`,
    adminUrl: `http://127.0.0.1:${chorus.runtime.admin.port ?? chorus.port}`,
    db,
    logs,
    chorus,
    async stop() {
      await chorus.stop();
      await db.drop();
    },
  };
}

export interface HttpResult<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
  readonly raw: string;
  readonly headers: Record<string, string>;
}

/** A small JSON client that records every response body (for the secrets scan). */
export class Api {
  readonly transcript: string[] = [];

  constructor(private readonly base: string) {}

  async request<T = Record<string, unknown>>(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<HttpResult<T>> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    });
    const raw = await res.text();
    this.transcript.push(raw);
    return { status: res.status, body: (raw ? JSON.parse(raw) : {}) as T, raw, headers: Object.fromEntries(res.headers.entries()) };
  }

  async devToken(user_id: string, display_name = user_id, kind: 'human' | 'agent' = 'human'): Promise<string> {
    const res = await this.request<{ access_token: string }>('POST', '/api/v1/auth/dev-token', { body: { user_id, display_name, kind } });
    if (res.status !== 201) throw new Error(`dev-token failed: ${res.status} ${res.raw}`);
    return res.body.access_token;
  }
}

export interface TestNodes {
  readonly nodes: RunningChorus[];
  readonly db: TestDatabase;
  readonly logs: CaptureLogger;
}

/**
 * Two whole Chorus nodes (`node-a`, `node-b`) in this process sharing a fresh database on the real Postgres and
 * one unique prefix on the real Redis: the distributed topology without child processes. `env` is added to
 * each node's configuration. The caller stops the nodes and drops the database.
 */
export async function startTestNodes(label: string, env: Record<string, string> = {}): Promise<TestNodes> {
  const db = await createTestDatabase(label);
  const logs = new CaptureLogger();
  Logger.overrideLogger(logs);
  const prefix = uniqueRedisPrefix(label);
  const nodes: RunningChorus[] = [];
  for (const nodeId of ['node-a', 'node-b']) {
    const config = loadConfig('standalone', {
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      NODE_ID: nodeId,
      ...env,
    });
    nodes.push(await startChorus(config, logs));
  }
  return { nodes, db, logs };
}
