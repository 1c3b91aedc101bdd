import './tracing';
import 'reflect-metadata';
import { runService } from '@chorus/runtime';
import { PresenceAppModule } from './presence-app.module';

void runService({ role: 'presence', module: (runtime) => PresenceAppModule.register(runtime) });
