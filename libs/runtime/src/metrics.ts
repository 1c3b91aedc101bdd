import { Controller, Get, Header, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Registry, collectDefaultMetrics } from 'prom-client';

export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  /** Prometheus text exposition of this app's metrics (process metrics included). */
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

/** `/metrics` for one app, on a registry of its own (labelled with the app and node). */
@Module({})
export class MetricsModule {
  static register(app: string, nodeId: string, registry = new Registry()): DynamicModule {
    registry.setDefaultLabels({ app, node: nodeId });
    collectDefaultMetrics({ register: registry, prefix: 'chorus_' });
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: METRICS_REGISTRY, useValue: registry }],
      exports: [METRICS_REGISTRY],
    };
  }
}
