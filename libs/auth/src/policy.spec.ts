import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { authorize, authorizeGrant, can, mayManage, policyTable } from './policy';

describe('role matrix', () => {
  it('is what docs/authorization.md says', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'authorization.md'), 'utf8');
    expect(doc).toContain(policyTable());
  });

  it('lets writers edit and keeps viewers read-only', () => {
    expect(can('editor', 'document.edit')).toBe(true);
    expect(can('agent', 'document.edit')).toBe(true);
    expect(can('viewer', 'document.edit')).toBe(false);
    expect(can('viewer', 'chat.send')).toBe(true);
    expect(() => authorize('viewer', 'document.edit')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => authorize(undefined, 'session.read')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
  });

  it('manages only strictly lower roles and never grants owner', () => {
    expect(mayManage('admin', 'editor')).toBe(true);
    expect(mayManage('admin', 'admin')).toBe(false);
    expect(mayManage('owner', 'admin')).toBe(true);
    expect(() => authorizeGrant('owner', 'owner')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => authorizeGrant('admin', 'admin')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => authorizeGrant('admin', 'viewer')).not.toThrow();
  });
});
