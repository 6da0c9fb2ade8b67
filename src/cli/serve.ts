/** `flintca serve`: wires the runtime into the two listeners and drains on SIGTERM/SIGINT. */
import { readFileSync } from 'node:fs';
import { createApps, type Mount } from '../http/apps.js';
import { Metrics } from '../http/metrics.js';
import { Readiness, within } from '../http/readiness.js';
import { startListeners, type FastHandler } from '../http/server.js';
import { SoftwareKeyStore, tlsKeyMaterial } from '../keys/index.js';
import { toPem } from '../pki/pem.js';
import { frontendFactories, type Frontend } from './frontends.js';
import { makeLogger, openRuntime } from './runtime.js';

export interface ServeOptions {
  data: string;
  host?: string;
  httpsPort?: number;
  httpPort?: number;
  acmeHttp01Port?: number;
  acmeTlsalpn01Port?: number;
  acmeDnsResolver?: string;
}


export async function runServe(o: ServeOptions): Promise<void> {
  const logger = makeLogger('stdout', 'info');
  let metrics: Metrics | undefined;
  const rt = await openRuntime(o.data, {
    logger,
    observer: { issued: (...a) => metrics?.issued(...a) },
    serverOverrides: { host: o.host, httpPort: o.httpPort, httpsPort: o.httpsPort },
  });
  metrics = new Metrics(rt.store.certificates);
  metrics.observeLeases(rt.leases);
  const { config } = rt;
  await rt.audit.record({ actor: 'system', action: 'config.load', object: `${config.dataDir}/flintca.json`, result: 'ok', data: { profiles: [...rt.profiles.keys()], databaseUrl: config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl : 'postgres://…' } });
  await rt.audit.record({ actor: 'system', action: 'server.start', object: `node:${process.pid}`, result: 'ok', data: { profiles: [...rt.profiles.keys()], cas: rt.issuers.list().map((i) => i.id), store: rt.store.kind, keyStore: rt.keys.kind } });

  let draining = false;
  const frontends: Frontend[] = [];
  for (const f of frontendFactories) frontends.push(await f(rt, o));
  const mounts: Mount[] = frontends.flatMap((f) => f.mounts);
  // Probed at most once a second; each part bounded so an unreachable database cannot hang it.
  const readiness = new Readiness(
    async () => {
      const [store, keys] = await Promise.all([within(rt.store.ping(), 2000), within(rt.keys.healthy(), 2000)]);
      return { ok: store && keys, detail: { store, keyStore: keys } };
    },
    { onChange: (r) => (r.ok ? logger.info(r.detail, 'ready again') : logger.warn(r.detail, 'not ready: protocol requests get 503 until the store and key store answer')) },
  );
  await readiness.check();
  const apps = createApps({ logger, metrics, issuers: rt.issuers, draining: () => draining, readiness, mounts });
  const tlsKeys = await SoftwareKeyStore.open({ dir: config.path(config.tls.keyDir), passphrase: config.secrets.tlsPassphrase?.reveal() ?? '' });
  const { keyPem, passphrase } = await tlsKeyMaterial(tlsKeys, config.tls.keyLabel);
  const clientCaPem = rt.issuers.list().map((i) => toPem(i.record.certDer, 'CERTIFICATE')).join('');
  const statusCounters = new Map<string, { inc(): void }>();
  // One bound child per app and status: the fast paths count ~30k requests/s.
  const counter = (app: 'http' | 'https') => (status: number) => {
    let c = statusCounters.get(`${app}${status}`);
    if (!c && metrics) statusCounters.set(`${app}${status}`, (c = metrics.httpRequests.labels(app, String(status))));
    c?.inc();
  };
  // Not ready: fast handlers (both listeners) step aside and express answers 503 (apps.ts notReadyGate).
  const gated = (handlers: FastHandler[]) => handlers.map((h): FastHandler => (req, res, ctx) => readiness.ready() && h(req, res, ctx));
  const fast = {
    handlers: gated(frontends.flatMap((f) => f.fast ?? [])),
    draining: () => draining,
    count: counter('http'),
    https: { handlers: gated(frontends.flatMap((f) => f.fastHttps ?? [])), count: counter('https') },
  };
  const listeners = await startListeners(apps, { certPem: readFileSync(config.path(config.tls.certFile), 'utf8'), keyPem, passphrase, clientCaPem }, config.server, fast);
  logger.info({ httpPort: listeners.httpPort, httpsPort: listeners.httpsPort, host: config.server.host }, 'Flint CA serving');

  const shutdown = async (signal: string) => {
    if (draining) return;
    draining = true;
    logger.info({ signal }, 'draining');
    await listeners.close(config.server.shutdownGraceMs);
    for (const f of frontends) await f.close?.().catch((e) => logger.warn({ err: e, frontend: f.name }, 'front-end close failed'));
    await rt.audit.record({ actor: 'system', action: 'server.stop', object: `node:${process.pid}`, result: 'ok', data: { signal } }).catch(() => undefined);
    await rt.close();
    await tlsKeys.close();
    logger.info('stopped');
    logger.flush?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
