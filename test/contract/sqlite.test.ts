import { afterAll } from 'vitest';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';
import { storeContract } from './store-contract.js';

const dir = tempDir('flintca-sqlite-');
afterAll(() => dir.cleanup());
storeContract('sqlite', async () => SqliteStore.open(join(dir.path, 'flintca.db')));
