export { EMBEDDED_MAX_CONNECTIONS, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
export { dataSourceOptions, runMigrations, typeOrmModuleOptions, type AppDataSourceSpec } from './data-source';
