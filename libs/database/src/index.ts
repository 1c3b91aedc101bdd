export { EMBEDDED_MAX_CONNECTIONS, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
export { dataSourceOptions, rowsOf, runMigrations, typeOrmModuleOptions, type AppDataSourceSpec } from './data-source';
