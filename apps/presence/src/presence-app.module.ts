import { Module, type DynamicModule } from '@nestjs/common';
import { HealthModule, redisReadinessCheck, type Runtime } from '@chorus/runtime';

/** The presence service: who is here, where their cursors are, who is typing — leased state in Redis. */
@Module({})
export class PresenceAppModule {
  static register(runtime: Runtime): DynamicModule {
    return {
      module: PresenceAppModule,
      imports: [HealthModule.register({ useFactory: () => redisReadinessCheck(runtime) })],
    };
  }
}
