/**
 * End to end against a checker we did not write (ARCHITECTURE.md rule 10): root → intermediate →
 * leaf chains built with pki/ and signed with node:crypto, verified by `openssl verify
 * -x509_strict` and read back with `openssl x509 -text`. Skips loudly without openssl unless
 * FLINTCA_REQUIRE_INTEROP=1, under which a missing openssl fails.
 */
import { X509Certificate, constants, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireTool } from '../../helpers/tmp.js';
import { signatureAlgorithmIdentifier, type SignatureAlgorithm } from '../../../src/pki/algorithms.js';
import { CertificateTemplate, assembleCertificate, buildTbsCertificate, parseCertificate } from '../../../src/pki/certificate.js';
import { parseCsr, verifyCsrSignature } from '../../../src/pki/csr.js';
import { subjectKeyIdentifier } from '../../../src/pki/extensions.js';
import { encodeName } from '../../../src/pki/name.js';
import { toPem } from '../../../src/pki/pem.js';
import type { KeyUsage, NameAttribute, TbsCertificateInput } from '../../../src/pki/types.js';

const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;
const dir = HAS_OPENSSL ? mkdtempSync(join(tmpdir(), 'flint-pki-')) : '';
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[]): { status: number; out: string } {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
function write(name: string, der: Buffer): string {
  writeFileSync(join(dir, name), toPem(der, 'CERTIFICATE'));
  return name;
}

interface Keys { publicKey: KeyObject; privateKey: KeyObject }
interface Variant { name: string; alg: SignatureAlgorithm; gen: () => Keys; leafKu: KeyUsage[] }
const VARIANTS: Variant[] = [
  { name: 'P-256', alg: 'ecdsa-sha256', gen: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }), leafKu: ['digitalSignature'] },
  { name: 'RSA-2048 PKCS1', alg: 'rsa-pkcs1-sha256', gen: () => generateKeyPairSync('rsa', { modulusLength: 2048 }), leafKu: ['digitalSignature', 'keyEncipherment'] },
  { name: 'RSA-2048 PSS', alg: 'rsa-pss-sha256', gen: () => generateKeyPairSync('rsa', { modulusLength: 2048 }), leafKu: ['digitalSignature', 'keyEncipherment'] },
  { name: 'Ed25519', alg: 'ed25519', gen: () => generateKeyPairSync('ed25519'), leafKu: ['digitalSignature'] },
];

function signTbs(alg: SignatureAlgorithm, key: KeyObject, tbs: Buffer): Buffer {
  switch (alg) {
    case 'ecdsa-sha256':
      return sign('sha256', tbs, { key, dsaEncoding: 'der' });
    case 'rsa-pkcs1-sha256':
      return sign('sha256', tbs, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'rsa-pss-sha256':
      return sign('sha256', tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    case 'ed25519':
      return sign(null, tbs, key);
    default:
      throw new Error(alg);
  }
}

const spki = (k: Keys) => k.publicKey.export({ type: 'spki', format: 'der' });
const serial = () => Buffer.concat([Buffer.from([0x01]), randomBytes(15)]);
const NOW = Date.now();
const VALIDITY = { notBefore: new Date(NOW - 3600_000), notAfter: new Date(NOW + 30 * 86400_000) };
const NO_SANS = { dns: [], ip: [], email: [], uri: [] };
const LEAF_SANS = { dns: ['www.example.com', 'example.com'], ip: ['192.0.2.10', '2001:db8::10'], email: ['admin@example.com'], uri: ['https://example.com/device/1'] };

function makeChain(v: Variant) {
  const [rootKey, interKey, leafKey] = [v.gen(), v.gen(), v.gen()];
  const alg = signatureAlgorithmIdentifier(v.alg);
  const rootSubject: NameAttribute[] = [{ type: 'C', value: 'US' }, { type: 'O', value: 'Flint Test' }, { type: 'CN', value: `Flint Test Root ${v.name}` }];
  const rootName = encodeName(rootSubject);
  const rootTbs = buildTbsCertificate({
    serial: serial(), signatureAlgorithm: alg, issuer: rootName, ...VALIDITY, subject: rootSubject,
    subjectPublicKeyInfo: spki(rootKey), sans: NO_SANS, keyUsage: ['keyCertSign', 'cRLSign'], extKeyUsage: [],
    basicConstraints: { ca: true, pathLen: 1 }, subjectKeyId: true,
  });
  const root = assembleCertificate(rootTbs, alg, signTbs(v.alg, rootKey.privateKey, rootTbs));

  const interSubject: NameAttribute[] = [{ type: 'C', value: 'US' }, { type: 'O', value: 'Flint Test' }, { type: 'CN', value: `Flint Test Issuing CA ${v.name}` }];
  const interName = encodeName(interSubject);
  const interTbs = buildTbsCertificate({
    serial: serial(), signatureAlgorithm: alg, issuer: rootName, ...VALIDITY, subject: interSubject,
    subjectPublicKeyInfo: spki(interKey), sans: NO_SANS, keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'], extKeyUsage: [],
    basicConstraints: { ca: true, pathLen: 0 }, subjectKeyId: true, authorityKeyId: subjectKeyIdentifier(spki(rootKey)),
    crlDistributionPoints: ['http://crl.example.com/root.crl'], caIssuersUrls: ['http://ca.example.com/root.crt'], policies: ['2.5.29.32.0'],
    nameConstraints: { permittedDns: ['example.com'], permittedIp: ['192.0.2.0/24', '2001:db8::/32'], permittedEmail: ['example.com'], excludedDns: ['bad.example.com'] },
  });
  const inter = assembleCertificate(interTbs, alg, signTbs(v.alg, rootKey.privateKey, interTbs));

  const template = new CertificateTemplate({
    signatureAlgorithm: alg, issuer: interName, keyUsage: v.leafKu, extKeyUsage: ['serverAuth', 'clientAuth'], basicConstraints: { ca: false },
    authorityKeyId: subjectKeyIdentifier(spki(interKey)), subjectKeyId: true, crlDistributionPoints: ['http://crl.example.com/inter.crl'],
    freshestCrl: ['http://crl.example.com/inter-delta.crl'], ocspUrls: ['http://ocsp.example.com'], caIssuersUrls: ['http://ca.example.com/inter.crt'],
    policies: ['2.23.140.1.2.1'], mustStaple: true,
  });
  const issue = (req: Partial<TbsCertificateInput> & { subjectPublicKeyInfo: Buffer }) => {
    const tbs = template.build({ serial: serial(), ...VALIDITY, subject: [{ type: 'CN', value: 'www.example.com' }], sans: LEAF_SANS, ...req });
    return assembleCertificate(tbs, alg, signTbs(v.alg, interKey.privateKey, tbs));
  };
  const leaf = issue({ subjectPublicKeyInfo: spki(leafKey) });
  return { root, inter, leaf, issue, interKey, leafKey, tag: v.name.replace(/\W+/g, '_') };
}

describe.skipIf(!requireTool(HAS_OPENSSL, 'openssl'))('chains verified by openssl', () => {
  for (const v of VARIANTS) {
    describe(v.name, () => {
      const c = HAS_OPENSSL ? makeChain(v) : undefined!;
      const verify = (leafName: string) => openssl(['verify', '-x509_strict', '-CAfile', `root-${c.tag}.pem`, '-untrusted', `inter-${c.tag}.pem`, leafName]);

      it('openssl verify -x509_strict accepts root → intermediate → leaf', () => {
        write(`root-${c.tag}.pem`, c.root);
        write(`inter-${c.tag}.pem`, c.inter);
        const r = verify(write(`leaf-${c.tag}.pem`, c.leaf));
        expect(r.out).toContain(`leaf-${c.tag}.pem: OK`);
        expect(r.status).toBe(0);
        // node:crypto agrees
        expect(new X509Certificate(c.leaf).verify(c.interKey.publicKey)).toBe(true);
        expect(new X509Certificate(c.leaf).checkIssued(new X509Certificate(c.inter))).toBe(true);
      });

      it('openssl x509 -text shows every leaf extension', () => {
        const t = openssl(['x509', '-noout', '-text', '-in', write(`leaf-${c.tag}.pem`, c.leaf)]).out;
        for (const want of [
          'Version: 3 (0x2)', 'X509v3 Basic Constraints: critical', 'CA:FALSE',
          'X509v3 Key Usage: critical', 'Digital Signature', 'TLS Web Server Authentication, TLS Web Client Authentication',
          'X509v3 Subject Key Identifier', 'X509v3 Authority Key Identifier',
          'OCSP - URI:http://ocsp.example.com', 'CA Issuers - URI:http://ca.example.com/inter.crt',
          'DNS:www.example.com, DNS:example.com, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:10, email:admin@example.com, URI:https://example.com/device/1',
          'Policy: 2.23.140.1.2.1', 'X509v3 CRL Distribution Points', 'URI:http://crl.example.com/inter.crl',
          'X509v3 Freshest CRL', 'URI:http://crl.example.com/inter-delta.crl', 'TLS Feature:', 'status_request',
        ]) expect(t, want).toContain(want);
        if (v.leafKu.includes('keyEncipherment')) expect(t).toContain('Digital Signature, Key Encipherment');
        expect(t).not.toMatch(/Subject Alternative Name: critical/);
        const p = parseCertificate(c.leaf);
        expect(p.sans).toEqual(LEAF_SANS);
        expect(p.isCA).toBe(false);
      });

      it('openssl x509 -text shows the CA extensions (pathlen, name constraints)', () => {
        const r = openssl(['x509', '-noout', '-text', '-in', write(`root-${c.tag}.pem`, c.root)]).out;
        expect(r).toContain('CA:TRUE, pathlen:1');
        expect(r).toContain('Certificate Sign, CRL Sign');
        const t = openssl(['x509', '-noout', '-text', '-in', write(`inter-${c.tag}.pem`, c.inter)]).out;
        for (const want of ['CA:TRUE, pathlen:0', 'X509v3 Name Constraints: critical', 'Permitted:', 'DNS:example.com', 'IP:192.0.2.0/255.255.255.0',
          'IP:2001:DB8:0:0:0:0:0:0/FFFF:FFFF:0:0:0:0:0:0', 'email:example.com', 'Excluded:', 'DNS:bad.example.com', 'Policy: X509v3 Any Policy',
          'URI:http://crl.example.com/root.crl']) expect(t, want).toContain(want);
        const p = parseCertificate(c.inter);
        expect([p.isCA, p.pathLen]).toEqual([true, 0]);
        expect(p.authorityKeyId).toEqual(parseCertificate(c.root).subjectKeyId);
      });
    });
  }

  describe('P-256 extras', () => {
    const c = HAS_OPENSSL ? makeChain(VARIANTS[0]!) : undefined!;
    const leafKey = () => spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
    const verify = (leafName: string) => {
      write('root-x.pem', c.root);
      write('inter-x.pem', c.inter);
      return openssl(['verify', '-x509_strict', '-CAfile', 'root-x.pem', '-untrusted', 'inter-x.pem', leafName]);
    };

    it('name constraints are enforced by openssl (a name outside them fails)', () => {
      const r = verify(write('evil.pem', c.issue({ subjectPublicKeyInfo: leafKey(), subject: [], sans: { ...NO_SANS, dns: ['www.evil.test'] } })));
      expect(r.status).not.toBe(0);
      expect(r.out).toMatch(/permitted subtree violation/);
      const excl = verify(write('excl.pem', c.issue({ subjectPublicKeyInfo: leafKey(), subject: [], sans: { ...NO_SANS, dns: ['x.bad.example.com'] } })));
      expect(excl.out).toMatch(/excluded subtree violation/);
    });

    it('an empty subject gets a critical SAN and verifies', () => {
      const name = write('empty-subject.pem', c.issue({ subjectPublicKeyInfo: leafKey(), subject: [], sans: { ...NO_SANS, dns: ['api.example.com'] } }));
      expect(verify(name).status).toBe(0);
      expect(openssl(['x509', '-noout', '-text', '-in', name]).out).toMatch(/X509v3 Subject Alternative Name: critical\s+DNS:api.example.com/);
    });

    it('a delegated OCSP responder certificate carries OCSP No Check', () => {
      const name = write('ocsp.pem', c.issue({
        subjectPublicKeyInfo: leafKey(), subject: [{ type: 'CN', value: 'ocsp.example.com' }], sans: NO_SANS, extKeyUsage: ['ocspSigning'], ocspNoCheck: true, mustStaple: false,
      }));
      const t = openssl(['x509', '-noout', '-text', '-in', name]).out;
      expect(t).toContain('OCSP No Check');
      expect(t).toContain('OCSP Signing');
      expect(t).not.toContain('TLS Feature');
    });

    const csrCases: Array<[string, string[]]> = [
      ['P-256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
      ['RSA-2048', ['-newkey', 'rsa:2048']],
      ['Ed25519', ['-newkey', 'ed25519']],
    ];
    for (const [kt, keyArgs] of csrCases) {
      it(`an openssl-made ${kt} CSR parses, proves possession and is issued into a verifying chain`, () => {
        writeFileSync(join(dir, 'attrs.cnf'), '[req]\nprompt=no\ndistinguished_name=dn\nattributes=attrs\n[dn]\nO=Flint Test\nCN=dev.example.com\n[attrs]\nchallengePassword=otp-42\n');
        // (the subject lives in the config: with -subj, openssl req drops the attributes)
        const r = openssl(['req', '-new', ...keyArgs, '-nodes', '-keyout', `csr-${kt}.key`, '-config', 'attrs.cnf',
          '-addext', 'subjectAltName=DNS:dev.example.com,IP:192.0.2.99', '-out', `csr-${kt}.pem`]);
        expect(r.status, r.out).toBe(0);
        const csr = parseCsr(readFileSync(join(dir, `csr-${kt}.pem`), 'utf8'));
        expect(csr.keyType).toBe(kt);
        expect(csr.challengePassword).toBe('otp-42');
        expect(csr.sans).toEqual({ ...NO_SANS, dns: ['dev.example.com'], ip: ['192.0.2.99'] });
        expect(verifyCsrSignature(csr)).toBe(true);
        const name = write(`from-csr-${kt}.pem`, c.issue({ subjectPublicKeyInfo: csr.subjectPublicKeyInfo, subject: csr.subject, subjectDer: csr.subjectDer, sans: csr.sans }));
        expect(verify(name).out).toContain(`${name}: OK`);
        // the certificate matches the CSR's private key
        const mod = openssl(['x509', '-noout', '-pubkey', '-in', name]).out;
        const keyPub = openssl(['pkey', '-pubout', '-in', `csr-${kt}.key`]).out;
        expect(mod).toBe(keyPub);
      });
    }
  });
});

