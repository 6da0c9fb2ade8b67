/**
 * Recent events (store.recentEvents) of a real, fresh in-memory SQLite store, for unit tests that
 * build a protocol's ports by hand: each call opens its own store (no events carried between
 * tests); all are closed after the test file.
 */
import { afterAll } from 'vitest';
import { SqliteStore } from '../../src/store/index.js';
import type { RecentEventRepository } from '../../src/store/types.js';

const opened: SqliteStore[] = [];

// Registered when a test file imports this helper (collection time): runs after that file.
afterAll(async () => {
  for (const s of opened.splice(0)) await s.close();
});

export function freshRecentEvents(): RecentEventRepository {
  const store = SqliteStore.open(':memory:');
  opened.push(store);
  return store.recentEvents;
}
