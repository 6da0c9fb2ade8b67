import { afterAll } from 'vitest';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';
import { haContract } from './ha-contract.js';
import { revocationContract } from './revocation-contract.js';
import { storeContract } from './store-contract.js';

const dir = tempDir('flintca-sqlite-');
afterAll(() => dir.cleanup());
const open = async () => SqliteStore.open(join(dir.path, 'flintca.db'));
storeContract('sqlite', open);
haContract('sqlite', open);
revocationContract('sqlite', open);
