import { Module, type DynamicModule } from '@nestjs/common';
import { HealthModule, redisReadinessCheck, type ReadinessCheck, type Runtime } from '@chorus/runtime';

/** The edge: Socket.IO and REST for clients, routing to the services over the transport. */
@Module({})
export class GatewayAppModule {
  /** `extraChecks`: readiness of what this process also hosts (standalone adds its in-process apps). */
  static register(runtime: Runtime, extraChecks: ReadinessCheck[] = []): DynamicModule {
    return {
      module: GatewayAppModule,
      imports: [HealthModule.register({ useFactory: () => [...redisReadinessCheck(runtime), ...extraChecks] })],
    };
  }
}
