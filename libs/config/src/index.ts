export { ConfigError, loadConfig, loadMigrationConfig, loadTracingConfig, type ChorusConfig, type TracingConfig } from './config';
export { APP_ROLES, LOG_LEVELS, VARIABLES, type AppRole, type LogLevel, type TrustedProxies, type VariableName, type VariableSpec } from './variables';
