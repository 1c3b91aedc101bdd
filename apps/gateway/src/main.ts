import 'reflect-metadata';
import { runService } from '@chorus/runtime';
import { GatewayAppModule } from './gateway-app.module';

void runService({ role: 'gateway', module: (runtime) => GatewayAppModule.register(runtime) });
