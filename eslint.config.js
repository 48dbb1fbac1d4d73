import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', '.tmp/', '**/*.js', '!eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/http/**'], message: 'Lower layers must not depend on http/.' },
          ],
        },
      ],
    },
  },
  {
    // Layering: http/ and cli/ sit on top and may import anything.
    files: ['packages/server/src/http/**/*.ts', 'packages/server/src/server.ts', 'packages/server/src/index.ts', 'packages/server/src/cli/**/*.ts', '**/test/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', '**/*.test.ts'],
    rules: { 'no-restricted-imports': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['packages/server/src/document/**/*.ts', 'packages/server/src/storage/**/*.ts', 'packages/server/src/base/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/db/**', '**/http/**', '**/replication/**', '**/cli/**'], message: 'Lower layers must not import upper layers.' }] },
      ],
    },
  },
  {
    // The client package stands on the protocol package only; it must never reach into the server.
    files: ['packages/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'syncline', message: 'packages/client must not import packages/server.' }],
          patterns: [{ group: ['syncline/*', '**/packages/server/**', '**/server/src/**'], message: 'packages/client must not import packages/server.' }],
        },
      ],
    },
  },
);
