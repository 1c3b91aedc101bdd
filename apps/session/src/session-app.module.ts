import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { typeOrmModuleOptions } from '@chorus/database';
import { HealthModule, redisReadinessCheck, type Runtime } from '@chorus/runtime';
import { SESSION_DATA_SOURCE } from './persistence/session.data-source';

/** The session service: sessions, participants, invites and the session event stream in Postgres. */
@Module({})
export class SessionAppModule {
  static register(runtime: Runtime): DynamicModule {
    const url = requireDatabase(runtime);
    return {
      module: SessionAppModule,
      imports: [
        TypeOrmModule.forRoot(typeOrmModuleOptions(SESSION_DATA_SOURCE, url, runtime.dbPoolMax)),
        HealthModule.register({
          inject: [getDataSourceToken(SESSION_DATA_SOURCE.app)],
          useFactory: (ds: DataSource) => [{ name: 'postgres', check: async () => void (await ds.query('SELECT 1')) }, ...redisReadinessCheck(runtime)],
        }),
      ],
    };
  }
}

function requireDatabase(runtime: Runtime): string {
  if (runtime.databaseUrl === undefined) throw new Error('The session service needs Postgres: set DATABASE_URL.');
  return runtime.databaseUrl;
}
