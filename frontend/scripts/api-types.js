// The REST types generated from the server's OpenAPI schema, kept in step with it.
//   node scripts/api-types.js                regenerate src/api/schema.d.ts from src/api/openapi.json
//   node scripts/api-types.js --check        fail when schema.d.ts is not what openapi.json makes
//   node scripts/api-types.js --from-server  first write openapi.json from the back end's app
// openapi.json is the server's schema as json.dumps(schema, indent=2, sort_keys=True) + "\n";
// a back-end test compares it with the live one.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FRONTEND = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SCHEMA_JSON = path.join(FRONTEND, 'src/api/openapi.json');
const SCHEMA_TS = path.join(FRONTEND, 'src/api/schema.d.ts');
const CLI = path.join(FRONTEND, 'node_modules/openapi-typescript/bin/cli.js');
const BACKEND = path.join(FRONTEND, '..', 'backend');

const DUMP_SCHEMA = [
  'import json',
  'from app.main import create_app',
  'print(json.dumps(create_app().openapi(), indent=2, sort_keys=True))',
].join('; ');

function generate(outFile) {
  execFileSync(process.execPath, [CLI, SCHEMA_JSON, '-o', outFile], {
    cwd: FRONTEND,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function check() {
  const dir = mkdtempSync(path.join(tmpdir(), 'api-types-'));
  try {
    const fresh = path.join(dir, 'schema.d.ts');
    generate(fresh);
    if (readFileSync(fresh, 'utf8') === readFileSync(SCHEMA_TS, 'utf8')) return;
    try {
      execFileSync('diff', ['-u', SCHEMA_TS, fresh], { stdio: 'inherit' });
    } catch {
      /* diff exits 1 when the files differ: that is the point */
    }
    console.error(
      'src/api/schema.d.ts is out of date with src/api/openapi.json: run `npm run api:types`.',
    );
    process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args.includes('--check')) {
  check();
} else {
  if (args.includes('--from-server')) {
    const python = path.join(BACKEND, '.venv', 'bin', 'python');
    const json = execFileSync(python, ['-c', DUMP_SCHEMA], { cwd: BACKEND, encoding: 'utf8' });
    writeFileSync(SCHEMA_JSON, json);
  }
  generate(SCHEMA_TS);
}
