import './tracing';
import 'reflect-metadata';
import { runService } from '@chorus/runtime';
import { ConflictAppModule } from './conflict-app.module';
import { CONFLICT_DATA_SOURCE } from './persistence/conflict.data-source';

void runService({ role: 'conflict', module: (runtime) => ConflictAppModule.register(runtime), dataSource: CONFLICT_DATA_SOURCE });
