// openapi-schema.mjs: validates ui/openapi.json against the OpenAPI 3.0 schema
// (@seriousme/openapi-schema-validator). Exits 77 (meson's SKIP) when node_modules is absent,
// unless SYMTASK_REQUIRE_BROWSER is set (.ci/run): then it fails.
import {fileURLToPath} from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const doc = path.join(here, '..', '..', 'ui', 'openapi.json');
let Validator;
try {
  ({Validator} = await import('@seriousme/openapi-schema-validator'));
} catch (e) {
  const why = `tests/ui/node_modules lacks @seriousme/openapi-schema-validator (npm ci in tests/ui; scripts/install-deps): ${e.code || e}`;
  if (process.env.SYMTASK_REQUIRE_BROWSER) {
    console.error(why);
    process.exit(1);
  }
  console.log(`SKIP: ${why}`);
  process.exit(77);
}
const v = new Validator();
const res = await v.validate(doc);
if (!res.valid) {
  console.error(`${doc} is not a valid OpenAPI ${v.version} document:`);
  console.error(JSON.stringify(res.errors, null, 2));
  console.log('0 passed, 1 failed');
  process.exit(1);
}
console.log(`${doc}: valid OpenAPI ${v.version}`);
console.log('1 passed, 0 failed');
