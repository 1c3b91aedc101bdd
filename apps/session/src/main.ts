import './tracing';
import 'reflect-metadata';
import { runService } from '@chorus/runtime';
import { SessionAppModule } from './session-app.module';
import { SESSION_DATA_SOURCE } from './persistence/session.data-source';

void runService({ role: 'session', module: (runtime) => SessionAppModule.register(runtime), dataSource: SESSION_DATA_SOURCE });
