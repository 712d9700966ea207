// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use a string union, not an enum.' }],
      // Prettier lays lines out within 120 columns but cannot split a literal: long texts are split
      // by hand. Exempt: regular expressions, and sh`…` commands, whose text is what the host runs
      // and what tests assert, so a split would change the command.
      'max-len': ['error', { code: 120, ignoreRegExpLiterals: true, ignoreUrls: true, ignorePattern: '\\bsh`' }],
    },
  },
  {
    // Jobs decide the order of work; they never do I/O themselves (STYLE.md §4).
    files: ['jobs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'child_process', 'net', 'http', 'https'],
              message: 'jobs/ does no I/O: give the work to a step.',
            },
            {
              group: ['node-ssh', 'ssh2', 'ioredis', 'bullmq', '@slack/*'],
              message: 'jobs/ does no I/O: give the work to a step.',
            },
            {
              group: ['**/ssh/*', '**/queue/*', '**/slack/*'],
              message: 'jobs/ orders steps: it may use schemas and step types, not connections.',
            },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  // Plain Node scripts (scripts/refactor) and tool configs (.dependency-cruiser.cjs): Node's own globals.
  {
    files: ['**/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', module: 'writable', require: 'readonly' },
    },
  },
);
