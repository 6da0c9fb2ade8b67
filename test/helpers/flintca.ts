/** Drives the built `flintca` binary as a child process, the way operators and CI do. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { normalizeSerial } from '../../src/core/serial.js';

export const ROOT = join(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'dist/cli/main.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function flintca(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function run(cmd: string, args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...opts.env }, input: opts.input, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * Runs a client asynchronously (a blocking spawnSync would starve the test worker's RPC while the
 * client talks to a server in this process tree), collecting stdout+stderr; killed after timeoutMs.
 */
export function runAsync(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out });
    });
  });
}

/** A certificate file's serial as the store and `flintca list` spell it (core normalizeSerial), read by openssl. */
export function certSerial(pemPath: string): string {
  const r = run('openssl', ['x509', '-in', pemPath, '-noout', '-serial']);
  if (r.code !== 0) throw new Error(`openssl x509 -serial ${pemPath}: ${r.stderr}`);
  return normalizeSerial(r.stdout.trim().replace(/^serial=/i, ''));
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Served {
  proc: ChildProcess;
  httpPort: number;
  httpsPort: number;
  logs: () => string;
  stop: () => Promise<number | null>;
}

/** Starts `flintca serve` on loopback with free ports and waits for /healthz. */
export async function serve(data: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<Served> {
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const proc = spawn(process.execPath, [BIN, 'serve', '--data', data, '--host', '127.0.0.1', '--http-port', String(httpPort), '--https-port', String(httpsPort), ...extraArgs], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`flintca serve exited with ${proc.exitCode}:\n${out}`);
    try {
      const r = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`flintca serve did not become healthy:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    httpPort,
    httpsPort,
    logs: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode); // already gone (e.g. killed -9 by the test)
        const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        proc.once('exit', (code) => {
          clearTimeout(t);
          resolve(code);
        });
        proc.kill('SIGTERM');
      }),
  };
}
