// Process helpers for the benchmarks: free loopback ports, waiting for a server, stopping a
// process group we started (by its id, never by name).
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitPort(port, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((res) => {
      const s = createConnection(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), res(true)));
      s.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listening on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts cmd in its own process group (so forked children can be stopped with it); keeps the last
 * output. `selfGrouping`: the program makes its own group (openssl ocsp -multi calls setpgid and
 * exits when started as a session leader), so it is not started detached.
 */
export function startGroup(cmd, args, { env = {}, selfGrouping = false } = {}) {
  const p = spawn(cmd, args, { detached: !selfGrouping, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  const keep = (d) => (out = (out + d).slice(-20_000));
  p.stdout.on('data', keep);
  p.stderr.on('data', keep);
  return { p, output: () => out };
}

/** Resolves once the process printed text matching re (e.g. a listening banner). */
export async function waitOutput(g, re, ms = 15_000) {
  const end = Date.now() + ms;
  while (!re.test(g.output())) {
    if (g.p.exitCode !== null || Date.now() > end) throw new Error(`no ${re} from ${g.p.spawnfile}: ${g.output().slice(-300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops the process group started by startGroup: SIGTERM, then SIGKILL after graceMs. */
export async function stopGroup(g, graceMs = 3000) {
  if (!g || g.p.exitCode !== null || g.p.signalCode !== null) return;
  const exited = new Promise((r) => g.p.once('exit', r));
  const kill = (sig) => {
    try {
      process.kill(-g.p.pid, sig);
    } catch {
      /* already gone */
    }
  };
  kill('SIGTERM');
  const t = setTimeout(() => kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
  kill('SIGKILL'); // forked children left in the group (openssl ocsp -multi)
}
