import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { authorize, authorizeGrant, can, channelPolicyTable, channelPublishAction, mayManage, policyTable } from './policy';

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

describe('channel matrix', () => {
  const channels = ['files', 'diagnostics', 'ai-response', 'search', 'validation', 'git', 'x-<name>'];

  it('is what docs/authorization.md says', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'authorization.md'), 'utf8');
    expect(doc).toContain(channelPolicyTable(channels));
  });

  it('lets viewers subscribe but not publish, and only agents publish ai-response', () => {
    expect(can('viewer', 'channel.subscribe')).toBe(true);
    expect(() => authorize('viewer', channelPublishAction('files'))).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => authorize('viewer', channelPublishAction('x-build'))).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => authorize('editor', channelPublishAction('files'))).not.toThrow();
    expect(() => authorize('agent', channelPublishAction('ai-response'))).not.toThrow();
    expect(() => authorize('editor', channelPublishAction('ai-response'))).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => authorize('owner', channelPublishAction('ai-response'))).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
  });
});
