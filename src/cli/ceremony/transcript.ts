/**
 * Ceremony transcripts: what went in (files and their SHA-256), which keys were used or made
 * (RFC 7512 URI, SHA-256 of the SubjectPublicKeyInfo), what came out (files, certificate and CRL
 * fingerprints), who ran it (the operator named on the command line) and when. Printed as text
 * and written as JSON; its summary is appended to an audit log.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { certificateFingerprint, parseCertificate } from '../../pki/certificate.js';
import { nameToString } from '../../pki/name.js';

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** What the ceremony did with a key. */
export type KeyUse = 'generated' | 'used' | 'wrapped' | 'restored';

export interface TranscriptData {
  format: 'flintca-ceremony-transcript/1';
  ceremony: string;
  name: string;
  file: { path: string; sha256: string };
  operator: string;
  startedAt: string;
  finishedAt?: string;
  result: 'ok' | 'failed';
  error?: string;
  plan: string[];
  inputs: { path: string; sha256: string }[];
  keys: { uri: string; keyType: string; publicKeySha256: string; how: KeyUse; extractable?: boolean }[];
  outputs: { path: string; sha256: string }[];
  certificates: { path: string; subject: string; issuer: string; serial: string; sha256: string; notBefore: string; notAfter: string }[];
  notes: string[];
}

export class Transcript {
  readonly data: TranscriptData;

  constructor(ceremony: string, name: string, file: string, fileBytes: Buffer, operator: string, plan: string[], now: Date) {
    this.data = {
      format: 'flintca-ceremony-transcript/1', ceremony, name, file: { path: rel(file), sha256: sha256(fileBytes) }, operator,
      startedAt: now.toISOString(), result: 'ok', plan, inputs: [], keys: [], outputs: [], certificates: [], notes: [],
    };
  }

  input(path: string, bytes: Uint8Array): void {
    this.data.inputs.push({ path: rel(path), sha256: sha256(bytes) });
  }

  key(uri: string, keyType: string, spki: Uint8Array, how: KeyUse, extractable?: boolean): void {
    this.data.keys.push({ uri, keyType, publicKeySha256: sha256(spki), how, ...(extractable === undefined ? {} : { extractable }) });
  }

  output(path: string, bytes: Uint8Array): void {
    this.data.outputs.push({ path: rel(path), sha256: sha256(bytes) });
  }

  certificate(path: string, der: Buffer): void {
    const c = parseCertificate(der);
    this.data.certificates.push({
      path: rel(path), subject: nameToString(c.subject), issuer: nameToString(c.issuerDer), serial: c.serialHex,
      sha256: certificateFingerprint(der, 'sha256'), notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(),
    });
  }

  note(s: string): void {
    this.data.notes.push(s);
  }

  finish(now: Date, error?: string): void {
    this.data.finishedAt = now.toISOString();
    if (error !== undefined) {
      this.data.result = 'failed';
      this.data.error = error;
    }
  }

  /** Human-readable form (printed; the JSON file is the record). */
  text(): string[] {
    const d = this.data;
    const lines = [
      `=== Flint CA key ceremony transcript: ${d.ceremony} "${d.name}" ===`,
      `operator:  ${d.operator}`,
      `file:      ${d.file.path}  sha256=${d.file.sha256}`,
      `started:   ${d.startedAt}`,
      `finished:  ${d.finishedAt ?? '-'}  result=${d.result}${d.error ? ` (${d.error})` : ''}`,
    ];
    for (const i of d.inputs) lines.push(`input:     ${i.path}  sha256=${i.sha256}`);
    for (const k of d.keys) lines.push(`key:       ${k.uri}  ${k.keyType}  ${k.how}${k.extractable === undefined ? '' : k.extractable ? ' (extractable for backup, wrap-with-trusted)' : ' (non-extractable)'}  public key sha256=${k.publicKeySha256}`);
    for (const c of d.certificates) lines.push(`cert:      ${c.path}  subject="${c.subject}" issuer="${c.issuer}" serial=${c.serial} ${c.notBefore}..${c.notAfter}  sha256=${c.sha256}`);
    for (const o of d.outputs) lines.push(`output:    ${o.path}  sha256=${o.sha256}`);
    for (const n of d.notes) lines.push(`note:      ${n}`);
    return lines;
  }

  write(file: string): Buffer {
    mkdirSync(dirname(file), { recursive: true });
    const bytes = Buffer.from(JSON.stringify(this.data, null, 2) + '\n');
    writeFileSync(file, bytes, { flag: 'wx' });
    return bytes;
  }
}

/** Paths in transcripts are relative to the working directory when inside it (stable across machines). */
export function rel(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
}
