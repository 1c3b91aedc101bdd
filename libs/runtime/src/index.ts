export { HealthController, HealthModule, READINESS_CHECKS, type HealthModuleOptions, type ReadinessCheck } from './health';
export { createLogger } from './logger';
export { createRuntime, redisReadinessCheck, transportReadinessCheck, type Runtime } from './runtime';
export { installShutdown } from './shutdown';
export { boundPort, fatal, listenHttp, loadConfigOrExit, runService, type ServiceEntry } from './bootstrap';
export { createServiceTransport, type ServiceName, type ServiceTransport } from './transport';
export { METRICS_REGISTRY, MetricsController, MetricsModule } from './metrics';
export { startPeriodic, type PeriodicTask } from './periodic';
