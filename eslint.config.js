'use strict';
// Flat config, CommonJS so that tests can `require` it (Jest cannot load an ESM config file).
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const chorus = require('./tools/eslint/boundaries');

module.exports = tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'libs/*/dist/**', 'coverage/**', 'loadtest/**', '**/fixtures/**', '.chorus-data/**', 'test-output/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { chorus },
    rules: {
      'chorus/boundaries': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // Only libs/config reads the environment: everything else receives a typed, validated config.
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'standalone/**/*.ts'],
    ignores: ['libs/config/**', 'libs/testing/**', '**/*.spec.ts', '**/test/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration through @chorus/config.' }],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'tools/**/*.js', 'libs/testing/**/*.ts', '**/test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The app's Vite config is an ES module run by Node.
    files: ['apps/web/vite.config.mjs'],
    languageOptions: { sourceType: 'module', globals: { URL: 'readonly' } },
  },
);
