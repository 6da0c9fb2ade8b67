/**
 * Offline and key ceremonies: root (key + self-signed certificate), intermediate (key + CSR),
 * sign-intermediate (the root signs the CSR), ocsp-signer (the root certifies a responder key),
 * crl (a CRL signed by the root) and key (just a key). Everything is read and checked before a
 * token is opened.
 */
import { createPublicKey } from 'node:crypto';
import type { Ceremony } from '../../config/ceremony.js';
import { makeCsr, newSerial, selfSignRoot, signOfflineCrl, signSubordinate, reasonCode } from '../../core/index.js';
import { FlintError } from '../../errors/index.js';
import { parseCsr, verifyCsrSignature } from '../../pki/csr.js';
import { encodeName, nameToString } from '../../pki/name.js';
import { fromPem, toPem } from '../../pki/pem.js';
import type { NameAttribute } from '../../pki/types.js';
import { sha256 } from './transcript.js';
import type { Signer } from '../../keys/types.js';
import { describeToken, findKey, outPath, parseField, readCertificate, readInput, withToken, writeOutput, type Prepared, type RunContext } from './steps.js';

type Of<K extends Ceremony['ceremony']> = Extract<Ceremony, { ceremony: K }>;

export function subjectOf(map: Record<string, string>, field: string): NameAttribute[] {
  const attrs = Object.entries(map).map(([type, value]) => ({ type, value }));
  parseField(field, () => encodeName(attrs));
  return attrs;
}

const dates = (v: { notBefore: string; notAfter: string }) => ({ notBefore: new Date(v.notBefore), notAfter: new Date(v.notAfter) });

function keyLines(c: { token: Of<'root'>['token']; key: Of<'root'>['key'] }): string[] {
  return [
    `open ${describeToken(c.token)}`,
    `generate ${c.key.type} key pair "${c.key.label}" on token "${c.token.label}": sensitive, ${c.key.backup ? 'EXTRACTABLE only wrapped by a trusted key (backup: true)' : 'non-extractable'}`,
  ];
}

async function generate(ctx: RunContext, c: { token: Of<'root'>['token']; key: Of<'root'>['key'] }, pubOut: string, f?: (s: Signer) => Promise<void>): Promise<void> {
  await withToken(ctx, c.token, async (keys) => {
    const signer = await keys.generate(c.key.label, c.key.type, { backup: c.key.backup });
    ctx.t.key(signer.keyUri, signer.keyType, signer.publicKey, 'generated', c.key.backup);
    writeOutput(ctx, pubOut, toPem(signer.publicKey, 'PUBLIC KEY'));
    await f?.(signer);
  });
}

export function prepareRoot(c: Of<'root'>): Prepared {
  const subject = subjectOf(c.certificate.subject, 'certificate.subject');
  const crt = outPath(c.output, '.crt');
  const der = outPath(c.output, '.der');
  const pub = outPath(c.output, '.pub.pem');
  return {
    plan: [
      ...keyLines(c),
      `self-sign root certificate: subject "${nameToString(subject)}", ${c.certificate.validity.notBefore} .. ${c.certificate.validity.notAfter}, pathLen ${c.certificate.pathLength ?? 'unlimited'}` +
        `${c.certificate.nameConstraints ? `, name constraints ${JSON.stringify(c.certificate.nameConstraints)}` : ''}${c.certificate.policies.length ? `, policies ${c.certificate.policies.join(' ')}` : ''}`,
      `write ${pub}, ${crt} (PEM), ${der}`,
    ],
    outputs: [pub, crt, der],
    defaultTranscriptDir: c.output.dir,
    run: (ctx) =>
      generate(ctx, c, pub, async (signer) => {
        const cert = await selfSignRoot(newSerial(ctx.random).bytes, signer, subject, { ...dates(c.certificate.validity), pathLength: c.certificate.pathLength, nameConstraints: c.certificate.nameConstraints, policies: c.certificate.policies });
        writeOutput(ctx, crt, toPem(cert, 'CERTIFICATE'));
        writeOutput(ctx, der, cert);
        ctx.t.certificate(crt, cert);
      }),
  };
}

export function prepareIntermediate(c: Of<'intermediate'>): Prepared {
  const subject = subjectOf(c.csr.subject, 'csr.subject');
  const csr = outPath(c.output, '.csr');
  const pub = outPath(c.output, '.pub.pem');
  return {
    plan: [...keyLines(c), `make a PKCS#10 request signed by "${c.key.label}" for subject "${nameToString(subject)}"`, `write ${pub}, ${csr} (PEM)`],
    outputs: [pub, csr],
    defaultTranscriptDir: c.output.dir,
    run: (ctx) =>
      generate(ctx, c, pub, async (signer) => {
        writeOutput(ctx, csr, toPem(await makeCsr(signer, subject), 'CERTIFICATE REQUEST'));
      }),
  };
}

export function prepareKey(c: Of<'key'>): Prepared {
  const pub = outPath(c.output, '.pub.pem');
  return { plan: [...keyLines(c), `write ${pub}`], outputs: [pub], defaultTranscriptDir: c.output.dir, run: (ctx) => generate(ctx, c, pub) };
}

/** The offline issuer: its certificate is read and parsed before the token is opened. */
function loadIssuer(c: { issuer: { certificate: string } }, notAfter?: Date) {
  const { bytes, cert } = readCertificate(c.issuer.certificate, 'issuer.certificate');
  if (!cert.isCA) throw new FlintError('invalidConfig', 'issuer.certificate: not a CA certificate');
  if (notAfter && notAfter > cert.notAfter) throw new FlintError('invalidConfig', `certificate.validity.notAfter: after the issuer certificate's notAfter (${cert.notAfter.toISOString()})`);
  return { bytes, cert };
}

type IssuerCeremony = Of<'sign-intermediate'> | Of<'ocsp-signer'>;

/** Opens the offline token, signs one certificate with the issuer key, writes `<name>.crt` (PEM) and `<name>.der`. */
async function issueOffline(ctx: RunContext, c: IssuerCeremony, issuer: ReturnType<typeof loadIssuer>, inputs: [string, Buffer][], sign: (signer: Signer) => Promise<Buffer>): Promise<void> {
  ctx.t.input(c.issuer.certificate, issuer.bytes);
  for (const [path, bytes] of inputs) ctx.t.input(path, bytes);
  await withToken(ctx, c.token, async (keys) => {
    const signer = await findKey(keys, c.issuer.keyLabel, c.token.label);
    ctx.t.key(signer.keyUri, signer.keyType, signer.publicKey, 'used');
    const cert = await sign(signer);
    const crt = outPath(c.output, '.crt');
    writeOutput(ctx, crt, toPem(cert, 'CERTIFICATE'));
    writeOutput(ctx, outPath(c.output, '.der'), cert);
    ctx.t.certificate(crt, cert);
  });
}

export function prepareSignIntermediate(c: Of<'sign-intermediate'>): Prepared {
  const v = dates(c.certificate.validity);
  const issuer = loadIssuer(c, v.notAfter);
  const csrBytes = readInput(c.csr, 'csr');
  const csr = parseField('csr', () => parseCsr(csrBytes));
  if (!parseField('csr', () => verifyCsrSignature(csr))) throw new FlintError('invalidConfig', `csr: the signature of ${c.csr} does not verify (proof of possession failed)`);
  const subject = c.certificate.subject ? { attrs: subjectOf(c.certificate.subject, 'certificate.subject') } : { attrs: csr.subject, der: csr.subjectDer };
  const crt = outPath(c.output, '.crt');
  const der = outPath(c.output, '.der');
  return {
    plan: [
      `open ${describeToken(c.token)}`,
      `check ${c.csr}: subject "${nameToString(csr.subject)}", ${csr.keyType} key, signature verifies`,
      `sign with "${c.issuer.keyLabel}" (issuer "${nameToString(issuer.cert.subject)}"): subordinate CA "${nameToString(subject.attrs)}", ${c.certificate.validity.notBefore} .. ${c.certificate.validity.notAfter}, pathLen ${c.certificate.pathLength ?? 'unlimited'}` +
        `${c.certificate.crlUrl ? `, CRL ${c.certificate.crlUrl}` : ''}${c.certificate.caIssuersUrl ? `, caIssuers ${c.certificate.caIssuersUrl}` : ''}${c.certificate.ocspUrl ? `, OCSP ${c.certificate.ocspUrl}` : ''}` +
        `${c.certificate.nameConstraints ? `, name constraints ${JSON.stringify(c.certificate.nameConstraints)}` : ''}${c.certificate.policies.length ? `, policies ${c.certificate.policies.join(' ')}` : ''}`,
      `write ${crt} (PEM), ${der}`,
    ],
    outputs: [crt, der],
    defaultTranscriptDir: c.output.dir,
    run: (ctx) =>
      issueOffline(ctx, c, issuer, [[c.csr, csrBytes]], (signer) => {
        const { crlUrl, caIssuersUrl, ocspUrl, pathLength, nameConstraints, policies } = c.certificate;
        return signSubordinate(newSerial(ctx.random).bytes, signer, issuer.cert, csr.subjectPublicKeyInfo, subject, { ca: { ...v, pathLength, nameConstraints, policies, crlUrl, caIssuersUrl, ocspUrl } });
      }),
  };
}

export function prepareOcspSigner(c: Of<'ocsp-signer'>): Prepared {
  const v = dates(c.certificate.validity);
  const issuer = loadIssuer(c, v.notAfter);
  const pubBytes = readInput(c.publicKey, 'publicKey');
  const spki = parseField('publicKey', () => {
    const der = fromPem(pubBytes, 'PUBLIC KEY')[0];
    if (!der) throw new Error('no PUBLIC KEY PEM block');
    createPublicKey({ key: der, format: 'der', type: 'spki' });
    return der;
  });
  const subject = subjectOf(c.certificate.subject, 'certificate.subject');
  const crt = outPath(c.output, '.crt');
  const der = outPath(c.output, '.der');
  return {
    plan: [
      `open ${describeToken(c.token)}`,
      `sign with "${c.issuer.keyLabel}" (issuer "${nameToString(issuer.cert.subject)}"): delegated OCSP responder "${nameToString(subject)}" for ${c.publicKey}, ${c.certificate.validity.notBefore} .. ${c.certificate.validity.notAfter}, EKU OCSPSigning, ocsp-nocheck`,
      `write ${crt} (PEM), ${der}`,
    ],
    outputs: [crt, der],
    defaultTranscriptDir: c.output.dir,
    run: (ctx) => issueOffline(ctx, c, issuer, [[c.publicKey, pubBytes]], (signer) => signSubordinate(newSerial(ctx.random).bytes, signer, issuer.cert, spki, { attrs: subject }, { ocsp: v })),
  };
}

export function prepareCrl(c: Of<'crl'>): Prepared {
  const issuer = loadIssuer(c);
  const entries = c.crl.revoked.map((r) => ({ serial: r.serial.replace(/:/g, '').toLowerCase(), revokedAt: new Date(r.revokedAt), reason: reasonCode(r.reason) ?? 0 }));
  const file = outPath(c.output, '.crl');
  const pem = outPath(c.output, '.crl.pem');
  return {
    plan: [
      `open ${describeToken(c.token)}`,
      `sign CRL number ${c.crl.number} with "${c.issuer.keyLabel}" (issuer "${nameToString(issuer.cert.subject)}"), ${c.crl.thisUpdate} .. ${c.crl.nextUpdate}, ${entries.length} revoked: ${entries.map((e) => e.serial).join(' ') || 'none'}`,
      `write ${file} (DER), ${pem}`,
    ],
    outputs: [file, pem],
    defaultTranscriptDir: c.output.dir,
    run: async (ctx) => {
      ctx.t.input(c.issuer.certificate, issuer.bytes);
      await withToken(ctx, c.token, async (keys) => {
        const signer = await findKey(keys, c.issuer.keyLabel, c.token.label);
        ctx.t.key(signer.keyUri, signer.keyType, signer.publicKey, 'used');
        const crl = await signOfflineCrl(signer, issuer.cert, { number: c.crl.number, thisUpdate: new Date(c.crl.thisUpdate), nextUpdate: new Date(c.crl.nextUpdate), entries });
        writeOutput(ctx, file, crl);
        writeOutput(ctx, pem, toPem(crl, 'X509 CRL'));
        ctx.t.note(`CRL ${file}: number ${c.crl.number}, ${entries.length} entries, sha256=${sha256(crl)}`);
      });
    },
  };
}
