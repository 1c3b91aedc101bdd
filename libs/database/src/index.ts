export { startEmbeddedPostgres, type EmbeddedLog, type EmbeddedPostgres } from './embedded-postgres';
export { dataSourceOptions, rowsOf, runMigrations, typeOrmModuleOptions, type AppDataSourceSpec } from './data-source';
export { inTransaction, poolOf, prepared, runPrepared, type PreparedStatement, type SqlExecutor } from './prepared';
export { underSessionLock } from './session-lock';
