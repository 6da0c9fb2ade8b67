/**
 * A round-robin TCP proxy on 127.0.0.1 standing in for a load balancer in TCP passthrough mode
 * (haproxy `mode tcp`, `balance roundrobin`): each new client connection goes to the next backend
 * in turn, skipping backends that refuse (a node killed with -9). TLS stays end to end, so the
 * proxy cannot split one keep-alive connection into requests — clients that should rotate per
 * request must open a connection per request (an https.Agent with keepAlive: false).
 *
 * Hand-written because it is ~70 lines of node:net and no test library offers per-backend
 * connection counts; the counts let a test assert that requests really rotated.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface RoundRobinProxy {
  /** Loopback port clients connect to. */
  port: number;
  /** Connections handed to each backend (same order as the backend ports). */
  counts: number[];
  /** Backend index of every accepted connection, in arrival order. */
  history: number[];
  /** Connections refused by every backend (closed at once). */
  refusedAll: number;
  /** Backend index the next connection tries first. */
  nextBackend(): number;
  close(): Promise<void>;
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/**
 * `balance: 'first'` (haproxy's `balance first`) sends every connection to the first backend that
 * accepts: a client pinned to one node until it dies, then failed over to the next.
 */
export async function roundRobin(backendPorts: number[], opts: { balance?: 'roundrobin' | 'first' } = {}): Promise<RoundRobinProxy> {
  const rotate = (opts.balance ?? 'roundrobin') === 'roundrobin';
  const counts = backendPorts.map(() => 0);
  const history: number[] = [];
  const open = new Set<Socket>();
  let next = 0;
  const proxy: RoundRobinProxy = { port: 0, counts, history, refusedAll: 0, nextBackend: () => next, close: async () => undefined };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    void (async () => {
      const start = next;
      if (rotate) next = (next + 1) % backendPorts.length;
      for (let i = 0; i < backendPorts.length; i++) {
        const idx = (start + i) % backendPorts.length;
        let upstream: Socket;
        try {
          upstream = await dial(backendPorts[idx]!);
        } catch {
          continue; // refused: a dead node, try the next one
        }
        if (client.destroyed) return void upstream.destroy();
        counts[idx]!++;
        history.push(idx);
        open.add(upstream);
        upstream.on('close', () => {
          open.delete(upstream);
          client.destroy();
        });
        upstream.on('error', () => upstream.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        return;
      }
      proxy.refusedAll++;
      client.destroy();
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  proxy.port = (server.address() as { port: number }).port;
  proxy.close = () =>
    new Promise((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}
