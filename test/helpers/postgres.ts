/**
 * A throwaway PostgreSQL cluster from the Debian binaries (CLIENTS.md): initdb + pg_ctl in a temp
 * dir on a random loopback port, or the server named by FLINTCA_TEST_PG_URL when set. Each call to
 * `database()` creates a fresh, empty database so test files never see each other's rows.
 * initdb refuses to run as root, so as root the cluster runs as the `postgres` system user (created
 * by Debian's postgresql package).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './flintca.js';

export interface PgCluster {
  /** Admin URL of the cluster (database `postgres`). */
  url: string;
  /** Creates an empty database and returns its URL. */
  database(): Promise<string>;
  /** pg_ctl stop / start (the data survives): for store-loss tests. An external server cannot be restarted: throws. */
  stop(): void;
  start(): void;
  destroy(): Promise<void>;
}

function binDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin/initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)');
  return join(base, versions[0]!, 'bin');
}

function asClusterUser(cmd: string, args: string[], timeoutMs = 60_000): string {
  const root = userInfo().uid === 0;
  const r = root
    ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8', timeout: timeoutMs })
    : spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error?.message}`);
  return r.stdout;
}

let dbCounter = 0;

export async function startPostgres(): Promise<PgCluster> {
  const external = process.env.FLINTCA_TEST_PG_URL;
  if (external) {
    const cannot = () => {
      throw new Error('FLINTCA_TEST_PG_URL names an external server: tests cannot stop or start it (unset it to use a throwaway cluster)');
    };
    return cluster(external, cannot, cannot, async () => undefined);
  }

  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'flintca-pg-'));
  chmodSync(dir, 0o700);
  if (userInfo().uid === 0) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  asClusterUser(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'flint', '--no-sync', '-E', 'UTF8']);
  // Throwaway cluster: fsync off (tests only — benchmarks use their own settings and say so).
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = () => void asClusterUser(join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
  const stop = () => void asClusterUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  start();
  const url = `postgres://flint@127.0.0.1:${port}/postgres`;
  return cluster(url, stop, start, async () => {
    try {
      stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function cluster(url: string, stop: () => void, start: () => void, destroy: () => Promise<void>): PgCluster {
  return {
    url,
    stop,
    start,
    destroy,
    async database() {
      const name = `flint_test_${process.pid}_${Date.now()}_${++dbCounter}`;
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.toString();
    },
  };
}
