import { startTracing } from '@chorus/tracing';

// Imported first by main.ts: the instrumentations must patch http, express, pg and ioredis before they load.
startTracing('session');
