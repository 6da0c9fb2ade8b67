/** Ceremony files: zod validation names the field path; PINs only by env or file. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCeremony } from '../../../src/config/ceremony.js';

const EXAMPLE = join(import.meta.dirname, '../../../scripts/ceremony-example');

const root = (over = '') => `ceremony: root
token: { label: flint-root, pin: { env: ROOT_PIN } }
key: { label: root-1, type: P-384 }
certificate:
  subject: { C: US, O: Example, CN: Example Root }
  validity: { notBefore: '2026-01-01T00:00:00Z', notAfter: '2036-01-01T00:00:00Z' }
  pathLength: 1
output: { dir: out, name: root }
${over}`;

function err(text: string): string {
  try {
    parseCeremony(text, 'c.yaml');
  } catch (e) {
    return (e as { detail: string }).detail;
  }
  throw new Error('expected a validation error');
}

describe('ceremony schema', () => {
  it('accepts a root ceremony, keeps subject order, defaults backup to false', () => {
    const c = parseCeremony(root(), 'c.yaml');
    expect(c.ceremony).toBe('root');
    if (c.ceremony !== 'root') return;
    expect(Object.keys(c.certificate.subject)).toEqual(['C', 'O', 'CN']);
    expect(c.key.backup).toBe(false);
    expect(c.certificate.policies).toEqual([]);
  });

  it('names the field path of every problem', () => {
    expect(err(root().replace("notAfter: '2036-01-01T00:00:00Z'", "notAfter: 'soon'"))).toContain('c.yaml: certificate.validity.notAfter: an ISO 8601 UTC time');
    expect(err(root().replace("notAfter: '2036-01-01T00:00:00Z'", "notAfter: '2025-01-01T00:00:00Z'"))).toContain('certificate.validity.notAfter: notAfter must be after notBefore');
    expect(err(root().replace('type: P-384', 'type: P-521'))).toContain('c.yaml: key.type:');
    expect(err(root().replace('label: root-1', 'label: "root 1"'))).toContain('key.label: letters, digits');
    expect(err(root('extra: 1'))).toMatch(/c\.yaml: \(root\): .*extra/);
    expect(err('ceremony: coronation\n')).toContain('c.yaml: ceremony: must be one of root, intermediate');
    expect(err('- a list\n')).toContain('(root): must be a mapping');
    expect(err('ceremony: [\n')).toContain('not valid YAML');
  });

  it('never takes a literal PIN', () => {
    expect(err(root().replace('{ env: ROOT_PIN }', '"1234"'))).toContain('token.pin: must be {env: VARIABLE} or {file: PATH} (never a literal PIN)');
    expect(err(root().replace('{ env: ROOT_PIN }', '{ value: "1234" }'))).toContain('token.pin:');
    expect(err(root().replace('{ env: ROOT_PIN }', '{ env: "not a var" }'))).toContain('token.pin');
    const f = parseCeremony(root().replace('{ env: ROOT_PIN }', '{ file: root.pin }'), 'c.yaml');
    expect(f.ceremony === 'root' && f.token.pin).toEqual({ file: 'root.pin' });
  });

  it('checks backup shares and crl dates', () => {
    const backup = (t: number, c: string) => `ceremony: backup
token: { label: t, pin: { env: P }, soPin: { env: S } }
keyLabel: k
shares: { threshold: ${t}, custodians: [${c}] }
output: { dir: b, name: k }
`;
    expect(parseCeremony(backup(3, 'a, b, c, d, e'), 'b.yaml').ceremony).toBe('backup');
    expect(err(backup(4, 'a, b, c'))).toContain('shares.threshold: threshold must not exceed the number of custodians');
    expect(err(backup(2, 'a, a, b'))).toContain('shares.custodians: custodian names must be unique');
    expect(err(backup(1, 'a, b'))).toContain('shares.threshold');
    const crl = `ceremony: crl
token: { label: t, pin: { env: P } }
issuer: { keyLabel: root, certificate: root.crt }
crl: { number: 1, thisUpdate: '2026-02-01T00:00:00Z', nextUpdate: '2026-01-01T00:00:00Z', revoked: [{ serial: zz, revokedAt: '2026-01-01T00:00:00Z' }] }
output: { dir: o, name: crl }
`;
    const e = err(crl);
    expect(e).toContain('crl.revoked.0.serial: hex serial');
    expect(e).toContain('crl.nextUpdate: nextUpdate must be after thisUpdate');
  });

  it('every shipped example ceremony file is valid', () => {
    const files = readdirSync(EXAMPLE).filter((f) => f.endsWith('.yaml')).sort();
    expect(files.length).toBe(7);
    const kinds = files.map((f) => parseCeremony(readFileSync(join(EXAMPLE, f), 'utf8'), f).ceremony);
    expect(kinds).toEqual(['root', 'intermediate', 'key', 'sign-intermediate', 'ocsp-signer', 'crl', 'install']);
  });
});
