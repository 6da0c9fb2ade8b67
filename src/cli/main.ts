#!/usr/bin/env node
/** bin entry point of `flintca`. */
import { main } from './program.js';

const code = await main(process.argv);
// `serve` keeps running after main() returns; every other command ends here.
if (code !== 0 || process.argv[2] !== 'serve') process.exit(code);
