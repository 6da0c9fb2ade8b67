// `npm run bench`: runs every benchmark under scripts/bench/ in turn (each prints its own figures).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const only = process.argv.slice(2);
const here = new URL('.', import.meta.url).pathname;
const benches = readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && (only.length === 0 || only.some((o) => f.includes(o)))).sort();
let failed = 0;
for (const b of benches) {
  console.log(`\n== ${b}`);
  const r = spawnSync(process.execPath, ['--expose-gc', here + b], { stdio: 'inherit', timeout: 10 * 60_000 });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
