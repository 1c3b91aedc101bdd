import * as path from 'node:path';
import { ESLint } from 'eslint';

// The config is passed in directly: Jest cannot let ESLint import a config file itself.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const config = require('../../eslint.config.js');
const root = path.resolve(__dirname, '..', '..');

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: config });
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result.messages.filter((m) => m.ruleId === 'chorus/boundaries').map((m) => m.message);
}

describe('chorus/boundaries lint rule', () => {
  it('rejects an app importing another app', async () => {
    const errors = await boundaryErrors('apps/gateway/src/x.ts', "import { SessionService } from '../../session/src/session.service';\nexport const s = SessionService;\n");
    expect(errors).toEqual([expect.stringContaining('App "gateway" must not import app "session"')]);
  });

  it('rejects a lib importing an app', async () => {
    const errors = await boundaryErrors('libs/transport/src/x.ts', "export { a } from '../../../apps/gateway/src/main';\n");
    expect(errors).toEqual([expect.stringContaining('A lib must not import an app')]);
  });

  it('rejects reaching into a lib by relative path instead of its alias', async () => {
    const errors = await boundaryErrors('apps/session/src/x.ts', "import { z } from '../../../libs/protocol/src/schemas';\nexport const y = z;\n");
    expect(errors).toEqual([expect.stringContaining('through its alias "@chorus/protocol"')]);
  });

  it('keeps libs/protocol and libs/ot free of other dependencies', async () => {
    expect(await boundaryErrors('libs/protocol/src/x.ts', "import { Injectable } from '@nestjs/common';\nexport const i = Injectable;\n")).toHaveLength(1);
    expect(await boundaryErrors('libs/ot/src/x.ts', "import { loadConfig } from '@chorus/config';\nexport const l = loadConfig;\n")).toHaveLength(1);
    expect(await boundaryErrors('libs/protocol/src/x.ts', "import { z } from 'zod';\nexport const s = z.string();\n")).toEqual([]);
  });

  it('allows an app to use libs and its own files, and the composition root to use every app', async () => {
    expect(await boundaryErrors('apps/gateway/src/x.ts', "import { a } from '@chorus/protocol';\nimport { b } from './b';\nexport const c = [a, b];\n")).toEqual([]);
    expect(await boundaryErrors('standalone/main.ts', "import { a } from '../apps/gateway/src/a';\nimport { b } from '../apps/session/src/b';\nexport const c = [a, b];\n")).toEqual([]);
  });
});
