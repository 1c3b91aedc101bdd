import type { Browser } from 'playwright-core';
import { startProcessCluster, type ProcessCluster } from '../../e2e/support/cluster';
import { launchChromium, newUser, type BrowserUser } from './browser';
import { ensureWebBuild } from './web-build';

/**
 * The set-up every browser spec shares: the web app built once, Chromium launched while a process cluster (2
 * gateways serving the app and the API, 1 replica of each service, the real Postgres and Redis) starts, and torn
 * down after the file. Every page error or console error of a user's tab fails the test during which it happened,
 * except what that test (or the file) declared expected with `tolerate`.
 */
export interface AppCluster {
  readonly cluster: ProcessCluster;
  readonly browser: Browser;
  /** A new user in a browser context of its own; its errors are checked after each test. */
  person(): Promise<BrowserUser>;
  /** Keeps SDK clients (or anything closable) to close after the file. */
  keep(...clients: Array<{ close(): void }>): void;
  /** Errors matching `pattern` are expected until the end of the current test. */
  tolerate(pattern: RegExp): void;
}

export interface AppClusterOptions {
  gateways?: number;
  extraEnv?: Record<string, string>;
  /** Errors expected in every test of the file (e.g. Chromium's line for a WebSocket to a killed gateway). */
  tolerate?: RegExp;
}

export function appCluster(label: string, options: AppClusterOptions = {}): AppCluster {
  let cluster: ProcessCluster | undefined;
  let browser: Browser | undefined;
  const users: BrowserUser[] = [];
  const closables: Array<{ close(): void }> = [];
  let tolerated: RegExp[] = [];

  beforeAll(async () => {
    const launching = launchChromium();
    const webDir = await ensureWebBuild();
    cluster = await startProcessCluster(label, {
      gateways: options.gateways ?? 2,
      replicas: 1,
      extraEnv: { WEB_APP: 'true', WEB_APP_DIR: webDir, CORS_ORIGINS: '*', ...options.extraEnv },
    });
    browser = await launching;
  }, 180_000);

  afterAll(async () => {
    for (const c of closables) c.close();
    await browser?.close();
    await cluster?.stop();
  });

  afterEach(() => {
    const expected = [...tolerated, ...(options.tolerate ? [options.tolerate] : [])];
    tolerated = [];
    const errors = users.flatMap((u) => u.errors.splice(0)).filter((e) => !expected.some((re) => re.test(e)));
    expect(errors).toEqual([]);
  });

  return {
    get cluster() {
      if (!cluster) throw new Error('appCluster: the cluster is not started yet (use it inside a test or a hook)');
      return cluster;
    },
    get browser() {
      if (!browser) throw new Error('appCluster: Chromium is not launched yet (use it inside a test or a hook)');
      return browser;
    },
    async person() {
      const user = await newUser(this.browser);
      users.push(user);
      return user;
    },
    keep(...clients) {
      closables.push(...clients);
    },
    tolerate(pattern) {
      tolerated.push(pattern);
    },
  };
}
