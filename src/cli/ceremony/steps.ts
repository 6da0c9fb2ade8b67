/** Shared shape of a prepared ceremony: validated inputs, the plan, and the run. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describePin, type TokenSpec } from '../../config/ceremony.js';
import { FlintError } from '../../errors/index.js';
import type { KeyStore, Signer } from '../../keys/types.js';
import { parseCertificate } from '../../pki/certificate.js';
import type { ParsedCertificate } from '../../pki/types.js';
import type { Transcript } from './transcript.js';

export interface RunContext {
  t: Transcript;
  /** Opens (logs in to) a token named by a ceremony file; PINs are resolved by the caller. */
  openToken(spec: TokenSpec): Promise<KeyStore>;
  /** Resolves a security-officer or user PIN named by the file (never printed). */
  pin(spec: TokenSpec, which: 'pin' | 'soPin'): string;
  random(n: number): Buffer;
  clock(): Date;
  operator: string;
  out(line: string): void;
}

export interface Prepared {
  /** Every step, token, key label, subject and output file, in order (dry run and transcript). */
  plan: string[];
  /** Files this ceremony creates; any that exists stops the ceremony before it starts. */
  outputs: string[];
  /** Where the transcript and the ceremony audit log go when --transcript-dir is not given. */
  defaultTranscriptDir: string;
  /** Set by ceremonies that target a data directory: their audit records go to its log. */
  dataDir?: string;
  run(ctx: RunContext): Promise<void>;
}

export function describeToken(t: TokenSpec): string {
  return `token "${t.label}" (module ${t.module ?? 'SoftHSM 2 default'}, PIN from ${describePin(t.pin)})`;
}

/** Reads an input file or fails naming the field. */
export function readInput(path: string, field: string): Buffer {
  try {
    return readFileSync(resolve(path));
  } catch {
    throw new FlintError('invalidConfig', `${field}: cannot read ${path}`);
  }
}

/** Wraps a parse step so its failure names the field. */
export function parseField<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new FlintError('invalidConfig', `${field}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Reads a certificate file (PEM or DER) named by `field`. */
export function readCertificate(path: string, field: string): { path: string; bytes: Buffer; cert: ParsedCertificate } {
  const bytes = readInput(path, field);
  return { path, bytes, cert: parseField(field, () => parseCertificate(bytes.toString('latin1').includes('-----BEGIN') ? bytes.toString('utf8') : bytes)) };
}

export function outPath(o: { dir: string; name: string }, suffix: string): string {
  return resolve(o.dir, `${o.name}${suffix}`);
}

/** Writes an output file (never overwriting) and records it in the transcript. */
export function writeOutput(ctx: RunContext, path: string, bytes: Buffer | string, mode = 0o644): void {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, b, { flag: 'wx', mode });
  ctx.t.output(path, b);
}

export async function withToken<T>(ctx: RunContext, spec: TokenSpec, f: (keys: KeyStore) => Promise<T>): Promise<T> {
  const keys = await ctx.openToken(spec);
  try {
    return await f(keys);
  } finally {
    await keys.close();
  }
}

export async function findKey(keys: KeyStore, label: string, token: string): Promise<Signer> {
  const s = await keys.find(label);
  if (!s) throw new FlintError('notFound', `no private key labelled "${label}" on token "${token}"`);
  return s;
}
