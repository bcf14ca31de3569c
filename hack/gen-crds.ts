// Writes crds/*.yaml from crds/definitions.ts. With --check, exits 1 if the files are out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrds } from '../crds/render.ts';

const crdDir = join(import.meta.dirname, '..', 'crds');
const check = process.argv.includes('--check');
let stale = 0;
for (const [file, text] of renderCrds()) {
  const path = join(crdDir, file);
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    /* new file */
  }
  if (current === text) continue;
  stale++;
  if (check) console.error(`${path} is out of date; run npm run gen:crds`);
  else {
    writeFileSync(path, text);
    console.log(`wrote ${path} (${text.length} bytes)`);
  }
}
if (check && stale > 0) process.exit(1);
