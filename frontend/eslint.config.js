// ESLint flat config: typescript-eslint (type-aware), react-hooks, and one-way imports
// (pages → hooks/components → chat → services → api) enforced with import-x.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const layers = {
  api: './src/api',
  lib: './src/lib',
  services: './src/services',
  chat: './src/chat',
  hooks: './src/hooks',
  components: './src/components',
  pages: './src/pages',
};

/** Each layer lists the layers it must not import from. */
const forbidden = {
  api: ['lib', 'services', 'chat', 'hooks', 'components', 'pages'],
  lib: ['services', 'chat', 'hooks', 'components', 'pages'],
  services: ['chat', 'hooks', 'components', 'pages'],
  chat: ['hooks', 'components', 'pages'],
  hooks: ['components', 'pages'],
  components: ['services', 'chat', 'pages'],
};

/** What a layer may still import from a layer it must not: components render chat messages. */
const allowed = {
  'components:chat': ['./messages.ts'],
};

const zones = Object.entries(forbidden).flatMap(([target, froms]) =>
  froms.map((from) => ({
    target: layers[target],
    from: layers[from],
    except: allowed[`${target}:${from}`] ?? [],
    message: `${target}/ must not import from ${from}/ (imports flow pages → hooks/components → chat → services → api).`,
  })),
);

export default defineConfig(
  // schema.d.ts is openapi-typescript's output, checked against openapi.json by `npm run lint`.
  { ignores: ['dist', 'coverage', 'node_modules', 'e2e/artifacts', 'src/api/schema.d.ts'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js', 'scripts/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  reactHooks.configs['recommended-latest'],
  importX.flatConfigs.recommended,
  importX.flatConfigs.typescript,
  {
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver()] },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/order': [
        'warn',
        { 'newlines-between': 'always', alphabetize: { order: 'asc', caseInsensitive: true } },
      ],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      // fast-check and others are used as namespaces (fc.string()) on purpose.
      'import-x/no-named-as-default-member': 'off',
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    files: ['src/**/*.test.{ts,tsx}', 'src/test/**'],
    rules: {
      // Tests may reach into any layer to arrange a scenario.
      'import-x/no-restricted-paths': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['*.config.{js,ts}', 'scripts/**'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // Browser tests (Playwright) run in Node; their fixtures' `use` is not a React hook.
    files: ['e2e/**/*.ts'],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'react-hooks/rules-of-hooks': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Plain JS files (this config, scripts/) that the type-aware rules cannot see into.
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { 'import-x/default': 'off', 'import-x/no-named-as-default-member': 'off' },
  },
  prettier,
);
