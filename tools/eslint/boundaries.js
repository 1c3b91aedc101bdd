'use strict';
// chorus/boundaries: the dependency direction of the monorepo, checked on every import.
//
//   libs never import apps or the standalone composition root;
//   an app never imports another app (they talk over the transport, never through code);
//   code outside a lib reaches it only through its public alias `@chorus/<lib>`, never by a relative path;
//   libs/ot imports nothing of ours (pure algorithms); libs/protocol imports only zod (a browser can load it).
//
// Only `standalone/` (the one-process composition root) may import several apps.
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const PURE_LIBS = { ot: new Set(['ot-text-unicode']), protocol: new Set(['zod']) };

/** Which part of the tree a repository-relative path belongs to: {kind: 'app'|'lib'|'other', name}. */
function zoneOf(relPath) {
  const parts = relPath.split(path.sep).join('/').split('/');
  if (parts[0] === 'apps' && parts[1]) return { kind: 'app', name: parts[1] };
  if (parts[0] === 'libs' && parts[1]) return { kind: 'lib', name: parts[1] };
  return { kind: 'other', name: parts[0] };
}

function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** @type {import('eslint').Rule.RuleModule} */
const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'Enforce the Chorus dependency direction between apps and libs.' },
    schema: [],
    messages: {
      libImportsApp: 'A lib must not import an app ({{target}}): move the shared code into a lib.',
      appImportsApp: 'App "{{from}}" must not import app "{{to}}": call it over the transport, or move the code into a lib.',
      relativeIntoLib: 'Import lib "{{to}}" through its alias "@chorus/{{to}}", not a relative path.',
      pureLib: 'libs/{{from}} must stay free of other dependencies; "{{target}}" is not allowed here.',
    },
  },
  create(context) {
    const filename = context.filename ?? context.getFilename();
    const fromRel = path.relative(ROOT, filename);
    if (fromRel.startsWith('..')) return {};
    const from = zoneOf(fromRel);
    // Tests of a pure lib may use Node and test tools; only the lib's shipped code must stay pure.
    const isTest = /\.spec\.ts$/.test(filename);

    function check(node, spec) {
      if (typeof spec !== 'string') return;
      let to;
      if (spec.startsWith('.')) {
        const targetRel = path.relative(ROOT, path.resolve(path.dirname(filename), spec));
        to = zoneOf(targetRel);
        if (to.kind === 'lib' && !(from.kind === 'lib' && from.name === to.name)) {
          context.report({ node, messageId: 'relativeIntoLib', data: { to: to.name } });
          return;
        }
      } else if (spec.startsWith('@chorus/')) {
        to = { kind: 'lib', name: spec.split('/')[1] };
      } else {
        if (isTest) {
          // allowed
        } else if (from.kind === 'lib' && PURE_LIBS[from.name] && !spec.startsWith('node:') && !PURE_LIBS[from.name].has(packageName(spec))) {
          context.report({ node, messageId: 'pureLib', data: { from: from.name, target: spec } });
        } else if (from.kind === 'lib' && from.name === 'protocol' && spec.startsWith('node:')) {
          context.report({ node, messageId: 'pureLib', data: { from: from.name, target: spec } });
        }
        return;
      }
      if (from.kind === 'lib') {
        if (to.kind === 'app' || to.name === 'standalone') {
          context.report({ node, messageId: 'libImportsApp', data: { target: spec } });
        } else if (!isTest && PURE_LIBS[from.name] && to.kind === 'lib' && to.name !== from.name) {
          context.report({ node, messageId: 'pureLib', data: { from: from.name, target: spec } });
        }
      } else if (from.kind === 'app' && (to.kind === 'app' || to.name === 'standalone') && to.name !== from.name) {
        context.report({ node, messageId: 'appImportsApp', data: { from: from.name, to: to.name } });
      }
    }

    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') {
          check(node, node.arguments[0].value);
        }
      },
    };
  },
};

module.exports = { rules: { boundaries: rule } };
