import './tracing';
import 'reflect-metadata';
import { runService } from '@chorus/runtime';
import { GatewayAppModule, configureGatewayApp } from './gateway-app.module';

void runService({ role: 'gateway', module: (runtime) => GatewayAppModule.register(runtime), configure: (app, runtime) => configureGatewayApp(app, runtime) });
