/**
 * `flintca ceremony run FILE --operator NAME [--dry-run] [--transcript-dir DIR]` and
 * `flintca ceremony validate FILE`. Order: parse + validate the file (zod), read and check every
 * input, refuse existing outputs, resolve PINs — all before any token is opened. A dry run stops
 * there and prints the plan. A real run prints and writes the transcript and appends its summary
 * to an audit log: the data directory's for install/rollover, else DIR/ceremony-audit.db next to
 * the transcripts (`flintca audit verify --data DIR` checks it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { AuditLog } from '../../audit/index.js';
import { configPath, env } from '../../config/index.js';
import { loadCeremony, resolvePin, type Ceremony, type TokenSpec } from '../../config/ceremony.js';
import { FlintError, isFlintError } from '../../errors/index.js';
import { Pkcs11KeyStore } from '../../keys/index.js';
import { prepareBackup, prepareRestore } from './backup.js';
import { prepareInstall, prepareRollover } from './install.js';
import { openStoreAt, withoutPassword } from '../runtime.js';
import { prepareCrl, prepareIntermediate, prepareKey, prepareOcspSigner, prepareRoot, prepareSignIntermediate } from './offline.js';
import type { Prepared, RunContext } from './steps.js';
import { rel, sha256, Transcript } from './transcript.js';

export const CEREMONY_AUDIT_DB = 'ceremony-audit.db';

export interface CeremonyRunOptions {
  operator: string;
  dryRun?: boolean;
  transcriptDir?: string;
}

function prepare(c: Ceremony, logger: Logger, transcriptDir: () => string): Prepared {
  switch (c.ceremony) {
    case 'root': return prepareRoot(c);
    case 'intermediate': return prepareIntermediate(c);
    case 'sign-intermediate': return prepareSignIntermediate(c);
    case 'ocsp-signer': return prepareOcspSigner(c);
    case 'crl': return prepareCrl(c);
    case 'key': return prepareKey(c);
    case 'backup': return prepareBackup(c);
    case 'restore': return prepareRestore(c);
    case 'install': return prepareInstall(c, logger, transcriptDir);
    case 'rollover': return prepareRollover(c, logger);
  }
}

function ceremonyName(c: Ceremony, file: string): string {
  return 'output' in c ? c.output.name : basename(file).replace(/\.ya?ml$/i, '');
}

function tokensOf(c: Ceremony): TokenSpec[] {
  return 'token' in c ? [c.token] : [];
}

/** Validates the file and every input without touching a token; returns the plan. */
export function validateCeremony(file: string, logger: Logger, transcriptDir?: string): { ceremony: Ceremony; text: Buffer; prepared: Prepared; transcriptDir: string; transcriptFile: string } {
  const { ceremony, text } = loadCeremony(file);
  let dir = transcriptDir ? resolve(transcriptDir) : undefined;
  const prepared = prepare(ceremony, logger, () => dir!);
  dir ??= resolve(prepared.defaultTranscriptDir);
  const existing = prepared.outputs.filter((o) => existsSync(o));
  if (existing.length) throw new FlintError('invalidConfig', `output: ${existing.map(rel).join(', ')} already exist${existing.length === 1 ? 's' : ''}: a ceremony never overwrites its outputs`);
  const transcriptFile = join(dir, `${ceremonyName(ceremony, file)}.${ceremony.ceremony}.transcript.json`);
  if (existsSync(transcriptFile)) throw new FlintError('invalidConfig', `transcript ${rel(transcriptFile)} already exists: this ceremony has run (remove its outputs and transcript to run it again)`);
  return { ceremony, text, prepared, transcriptDir: dir, transcriptFile };
}

async function openToken(spec: TokenSpec): Promise<Pkcs11KeyStore> {
  const pin = resolvePin(spec.pin, 'token.pin');
  return Pkcs11KeyStore.open({ modulePath: spec.module, tokenLabel: spec.label, pin: pin.reveal(), poolSize: 1 });
}

/**
 * Appends the ceremony's record to the data directory's audit log (its store, SQLite or
 * PostgreSQL; FLINTCA_DB_URL overrides flintca.json as everywhere) or to the ceremony log. Only
 * the database URL is read: the data directory may have no PIN configured (serve takes it from the
 * environment).
 */
async function appendAudit(p: Prepared, transcriptDir: string, event: Parameters<AuditLog['record']>[0], logger: Logger): Promise<string> {
  let url = `sqlite:${join(transcriptDir, CEREMONY_AUDIT_DB)}`;
  if (p.dataDir && existsSync(configPath(p.dataDir))) {
    const cfg = JSON.parse(readFileSync(configPath(p.dataDir), 'utf8')) as { databaseUrl?: string };
    url = env().dbUrl ?? cfg.databaseUrl ?? 'sqlite:flintca.db';
  }
  const store = await openStoreAt(url, (f) => resolve(p.dataDir ?? transcriptDir, f));
  try {
    await new AuditLog(store.audit, logger).record(event);
  } finally {
    await store.close();
  }
  return url.startsWith('sqlite:') ? rel(resolve(p.dataDir ?? transcriptDir, url.slice('sqlite:'.length))) : `PostgreSQL ${withoutPassword(url)}`;
}

export async function runCeremony(file: string, o: CeremonyRunOptions, logger: Logger, out: (s: string) => void): Promise<void> {
  if (!o.operator.trim()) throw new FlintError('malformed', '--operator: the name of the person running the ceremony is required');
  const v = validateCeremony(file, logger, o.transcriptDir);
  const { ceremony, prepared } = v;
  // PINs are resolved now (a missing variable or file stops the ceremony before any token is opened).
  for (const t of tokensOf(ceremony)) {
    resolvePin(t.pin, 'token.pin');
    if (ceremony.ceremony === 'backup' && t.soPin) resolvePin(t.soPin, 'token.soPin');
  }
  const name = ceremonyName(ceremony, file);
  if (o.dryRun) {
    out(`DRY RUN of ${ceremony.ceremony} ceremony "${name}" (${rel(resolve(file))}, sha256 ${sha256(v.text)}), operator ${o.operator}: nothing is opened, generated, signed or written.`);
    prepared.plan.forEach((l, i) => out(`  ${i + 1}. ${l}`));
    out(`  then: write transcript ${rel(v.transcriptFile)} and append it to the audit log ${prepared.dataDir ? `of ${rel(prepared.dataDir)}` : rel(join(v.transcriptDir, CEREMONY_AUDIT_DB))}`);
    return;
  }
  const t = new Transcript(ceremony.ceremony, name, resolve(file), v.text, o.operator, prepared.plan, new Date());
  const ctx: RunContext = {
    t,
    openToken,
    pin: (spec, which) => {
      const src = which === 'pin' ? spec.pin : spec.soPin;
      if (!src) throw new FlintError('invalidConfig', `token.${which}: required for this ceremony`);
      return resolvePin(src, `token.${which}`).reveal();
    },
    random: (n) => randomBytes(n),
    clock: () => new Date(),
    operator: o.operator,
    out,
  };
  let error: unknown;
  try {
    await prepared.run(ctx);
  } catch (e) {
    error = e;
  }
  const message = error === undefined ? undefined : isFlintError(error) ? error.detail : 'internal error';
  t.finish(new Date(), message);
  const transcriptFile = error === undefined ? v.transcriptFile : v.transcriptFile.replace(/\.transcript\.json$/, `.failed-${t.data.finishedAt!.replace(/[:.]/g, '')}.json`);
  const bytes = t.write(transcriptFile);
  for (const l of t.text()) out(l);
  const auditLog = await appendAudit(prepared, v.transcriptDir, {
    actor: `operator:${o.operator}`,
    action: `ceremony.${ceremony.ceremony}`,
    object: `ceremony:${name}`,
    result: error === undefined ? 'ok' : 'failed',
    ...(message ? { reason: message } : {}),
    data: {
      file: t.data.file, transcript: rel(transcriptFile), transcriptSha256: sha256(bytes),
      keys: t.data.keys.map((k) => ({ uri: k.uri, publicKeySha256: k.publicKeySha256 })),
      certificates: t.data.certificates.map((c) => ({ subject: c.subject, sha256: c.sha256 })),
      outputs: t.data.outputs,
    },
  }, logger);
  out(`transcript: ${rel(transcriptFile)}`);
  out(`audit log:  ${auditLog}`);
  if (error !== undefined) throw error;
}

export function runValidate(file: string, logger: Logger, out: (s: string) => void): void {
  const v = validateCeremony(file, logger);
  out(`${rel(resolve(file))}: valid ${v.ceremony.ceremony} ceremony (sha256 ${sha256(v.text)})`);
  v.prepared.plan.forEach((l, i) => out(`  ${i + 1}. ${l}`));
}
