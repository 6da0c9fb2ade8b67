/**
 * docker/: there is no Docker daemon on the development machine, so the images are never built
 * here. What can be checked is: haproxy accepts its configuration (`haproxy -c`), the compose file
 * parses and wires services, health checks and volumes as the README says, and every command,
 * option, npm script, file and environment variable the Dockerfile and compose file use exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli/program.js';
import { hasCommand, ROOT, run } from '../helpers/flintca.js';
import { requireTool } from '../helpers/tmp.js';

const DOCKER = join(ROOT, 'docker');
const dockerfile = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
const haproxyCfg = readFileSync(join(DOCKER, 'haproxy.cfg'), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  restart?: string;
}
const compose = parse(readFileSync(join(DOCKER, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const svc = compose.services;

/** Dockerfile instructions (continuation lines joined). */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op!.toUpperCase(), args: rest.join(' ') };
  });
const all = (op: string) => instructions.filter((i) => i.op === op);

/** The commander command a `flintca ...` argv names, checking every --option on the way. */
function checkFlintcaArgv(argv: string[]): void {
  expect(argv[0]).toBe('flintca');
  let cmd: Command = buildProgram();
  let i = 1;
  while (i < argv.length && !argv[i]!.startsWith('-')) {
    const sub = cmd.commands.find((c) => c.name() === argv[i]);
    expect(sub, `flintca ${argv.slice(1, i + 1).join(' ')} is a command`).toBeTruthy();
    cmd = sub!;
    i++;
  }
  expect(cmd.commands.length, `flintca ${argv.slice(1, i).join(' ')} is a leaf command`).toBe(0);
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    expect(cmd.options.map((o) => o.long), `${a} is an option of flintca ${cmd.name()}`).toContain(a.split('=')[0]);
  }
}

describe('docker/Dockerfile', () => {
  it('is multi-stage: npm ci + build in one stage, node:20-bookworm-slim with softhsm2 and opensc at run time', () => {
    const froms = all('FROM').map((f) => f.args);
    expect(froms.length).toBe(2);
    expect(froms[0]).toMatch(/^node:20-bookworm-slim AS build$/);
    expect(froms[1]).toBe('node:20-bookworm-slim');
    const runs = all('RUN').map((r) => r.args);
    expect(runs.some((r) => r.includes('npm ci') && r.includes('npm run build'))).toBe(true);
    expect(runs.some((r) => /apt-get install[^&]*\bsofthsm2\b/.test(r) && /\bopensc\b/.test(r))).toBe(true);
  });

  it('runs as the non-root user flintca, with a HEALTHCHECK on /readyz and `flintca serve` as entrypoint', () => {
    expect(all('RUN').some((r) => /useradd .*\bflintca$|useradd [^&]*flintca\b/.test(r.args))).toBe(true);
    const users = all('USER').map((u) => u.args);
    expect(users.at(-1)).toBe('flintca');
    const hc = all('HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0]!.args).toMatch(/\/readyz/);
    const ep = all('ENTRYPOINT');
    expect(ep).toHaveLength(1);
    const argv = JSON.parse(ep[0]!.args) as string[];
    expect(argv).toEqual(['flintca', 'serve']);
    checkFlintcaArgv(argv);
    // The `flintca` on PATH is the package's bin.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(dockerfile).toContain(`/app/${pkg.bin.flintca} /usr/local/bin/flintca`);
  });

  it('copies only files that exist and runs only npm scripts that package.json has', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const c of all('COPY').filter((c) => !c.args.startsWith('--from'))) {
      const parts = c.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
    }
    for (const m of dockerfile.matchAll(/npm run ([\w:-]+)/g)) expect(Object.keys(pkg.scripts), `npm run ${m[1]}`).toContain(m[1]);
    expect(existsSync(join(DOCKER, 'Dockerfile.dockerignore'))).toBe(true);
  });
});

describe('docker/docker-compose.yml', () => {
  it('runs postgres:15 with a health check, a one-shot init, two nodes and haproxy', () => {
    expect(Object.keys(svc).sort()).toEqual(['flint', 'haproxy', 'init', 'postgres']);
    expect(svc.postgres!.image).toBe('postgres:15');
    expect(svc.postgres!.healthcheck!.test.join(' ')).toMatch(/pg_isready/);
    expect(svc.flint!.deploy!.replicas).toBe(2);
    expect(svc.init!.depends_on!.postgres!.condition).toBe('service_healthy');
    expect(svc.flint!.depends_on!.init!.condition).toBe('service_completed_successfully');
    expect(svc.flint!.depends_on!.postgres!.condition).toBe('service_healthy');
    expect(svc.haproxy!.image).toMatch(/^haproxy:/);
    // A node that fails at start (e.g. SoftHSM missing the token beside a writer) is started again.
    expect(svc.flint!.restart).toBe('unless-stopped');
  });

  it('gives init and the nodes the same image, FLINTCA_DB_URL (PostgreSQL) and data + token volume', () => {
    for (const s of [svc.init!, svc.flint!]) {
      expect(s.image).toBe('flintca:local');
      expect(s.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
      expect(s.environment!.FLINTCA_DB_URL).toMatch(/^postgres:\/\/flintca:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432\/flintca$/);
      expect(s.volumes).toEqual(['flintca-data:/var/lib/flintca/data']);
      expect(s.environment!.FLINTCA_DATA).toBe('/var/lib/flintca/data');
    }
    expect(dockerfile).toMatch(/FLINTCA_DATA=\/var\/lib\/flintca\/data/);
    expect(Object.keys(compose.volumes).sort()).toEqual(['flintca-data', 'pgdata']);
    expect(svc.postgres!.volumes).toEqual(['pgdata:/var/lib/postgresql/data']);
    // Secrets come from docker/.env (git-ignored), never from the file itself.
    expect(svc.postgres!.environment!.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(readFileSync(join(DOCKER, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });

  it('init runs `flintca init` with options the CLI has, against SoftHSM; the nodes keep the image entrypoint', () => {
    const argv = [...svc.init!.entrypoint!, ...svc.init!.command!];
    checkFlintcaArgv(argv);
    expect(argv.slice(0, 4)).toEqual(['flintca', 'init', '--hsm', 'softhsm']);
    expect(svc.flint!.entrypoint).toBeUndefined();
    expect(svc.flint!.command).toBeUndefined();
  });

  it('every FLINTCA_* variable it sets is one the configuration reads', () => {
    const config = readFileSync(join(ROOT, 'src/config/index.ts'), 'utf8');
    const names = new Set([...Object.values(svc).flatMap((s) => Object.keys(s.environment ?? {})), ...[...dockerfile.matchAll(/\b(FLINTCA_\w+)/g)].map((m) => m[1]!)]);
    for (const n of [...names].filter((n) => n.startsWith('FLINTCA_'))) expect(config, n).toContain(`e.${n}`);
  });

  it('publishes haproxy on loopback by default and mounts haproxy.cfg', () => {
    expect(svc.haproxy!.ports).toEqual(['${FLINTCA_BIND:-127.0.0.1}:8443:8443', '${FLINTCA_BIND:-127.0.0.1}:8080:8080']);
    expect(svc.haproxy!.volumes).toEqual(['./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro']);
    expect(svc.flint!.expose).toEqual(['8443', '8080']);
  });
});

describe('docker/haproxy.cfg', () => {
  it('passes TCP through on 8443 and proxies HTTP on 8080, both health-checked on /readyz', () => {
    const section = (name: string) => haproxyCfg.split(/\n(?=\S)/).find((s) => s.split('\n')[0]!.trim() === name) ?? '';
    expect(section('frontend https_in')).toMatch(/mode tcp[\s\S]*bind :8443/);
    expect(section('frontend http_in')).toMatch(/mode http[\s\S]*bind :8080/);
    for (const [be, port] of [['backend flint_https', 'flint:8443 port 8080'], ['backend flint_http', 'flint:8080']] as const) {
      const s = section(be);
      expect(s, be).toMatch(/http-check send meth GET uri \/readyz/);
      expect(s, be).toMatch(/http-check expect status 200/);
      expect(s, be).toContain(`server-template flint 8 ${port} resolvers docker`);
    }
    expect(section('backend flint_https')).toMatch(/mode tcp/);
  });

  it('is a valid configuration for haproxy -c (only the Docker DNS name is unresolvable here)', () => {
    if (!requireTool(hasCommand('haproxy'), 'haproxy')) return;
    const r = run('haproxy', ['-c', '-f', join(DOCKER, 'haproxy.cfg')], { timeoutMs: 20_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Configuration file is valid/);
    const warnings = (r.stdout + r.stderr).split('\n').filter((l) => /\[(WARNING|ALERT)\]/.test(l));
    expect(warnings.filter((w) => !/could not resolve address 'flint', disabling server/.test(w))).toEqual([]);
  });
});
