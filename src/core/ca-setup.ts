/**
 * Creating CAs: a self-signed root and subordinate (issuing) CAs. Used by `flintca init` (the
 * development ceremony) and by the key-ceremony commands. Every step is audited.
 */
import { FlintError } from '../errors/index.js';
import type { KeyStore, Signer } from '../keys/types.js';
import { signatureAlgorithmIdentifier, type KeyType } from '../pki/algorithms.js';
import { assembleCertificate, buildTbsCertificate, certificateFingerprint } from '../pki/certificate.js';
import { subjectKeyIdentifier } from '../pki/extensions.js';
import { encodeName, nameToString } from '../pki/name.js';
import type { NameAttribute, NameConstraints } from '../pki/types.js';
import type { CaRecord, Store } from '../store/types.js';
import type { IssuerRegistry } from './issuers.js';
import type { AuditSink, Clock, PublicUrls, RandomBytes } from './ports.js';
import { newSerial } from './serial.js';
import { verifySignature } from './signature.js';

export interface CaSetupDeps {
  store: Store;
  keys: KeyStore;
  audit: AuditSink;
  clock: Clock;
  random: RandomBytes;
}

export interface CaOptions {
  id: string;
  keyLabel: string;
  keyType: KeyType;
  subject: NameAttribute[];
  validityDays: number;
  pathLen?: number;
  nameConstraints?: NameConstraints;
  policies?: string[];
  actor: string;
}

async function generateKey(d: CaSetupDeps, label: string, keyType: KeyType, actor: string): Promise<Signer> {
  const signer = await d.keys.generate(label, keyType);
  await d.audit.record({ actor, action: 'key.generate', object: signer.keyUri, result: 'ok', data: { keyType, store: d.keys.kind } });
  return signer;
}

/** Signs a CA certificate TBS and checks the signature against the issuer key. */
async function signCaCert(issuerSigner: Signer, issuerPublic: Signer['publicKeyObject'], tbs: Buffer): Promise<Buffer> {
  const sig = await issuerSigner.sign(tbs);
  if (!verifySignature(issuerPublic, issuerSigner.algorithm, tbs, sig)) throw new FlintError('internal', 'CA signature does not verify');
  return assembleCertificate(tbs, signatureAlgorithmIdentifier(issuerSigner.algorithm), sig);
}

async function storeCa(d: CaSetupDeps, o: CaOptions, parentId: string | null, signer: Signer, der: Buffer, notBefore: Date, notAfter: Date): Promise<CaRecord> {
  const record: CaRecord = {
    id: o.id,
    parentId,
    keyUri: signer.keyUri,
    certDer: der,
    subject: nameToString(o.subject),
    ski: subjectKeyIdentifier(signer.publicKey).toString('hex'),
    notBefore,
    notAfter,
    status: 'active',
    createdAt: d.clock(),
  };
  await d.store.cas.upsert(record, d.audit.emitted([
    { actor: o.actor, action: 'ca.create', object: `ca:${o.id}`, result: 'ok', data: { subject: record.subject, parent: parentId, keyUri: signer.keyUri, sha256: certificateFingerprint(der, 'sha256') } },
  ]));
  return record;
}

export async function createRootCa(d: CaSetupDeps, o: CaOptions): Promise<CaRecord> {
  const signer = await generateKey(d, o.keyLabel, o.keyType, o.actor);
  const now = d.clock();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + o.validityDays * 86_400_000);
  const name = o.subject;
  const tbs = buildTbsCertificate({
    serial: newSerial(d.random).bytes,
    signatureAlgorithm: signatureAlgorithmIdentifier(signer.algorithm),
    issuer: encodeName(name),
    notBefore,
    notAfter,
    subject: name,
    subjectPublicKeyInfo: signer.publicKey,
    sans: { dns: [], ip: [], email: [], uri: [] },
    keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
    extKeyUsage: [],
    basicConstraints: { ca: true, pathLen: o.pathLen },
    subjectKeyId: true,
    nameConstraints: o.nameConstraints,
    policies: o.policies,
  });
  const der = await signCaCert(signer, signer.publicKeyObject, tbs);
  return storeCa(d, o, null, signer, der, notBefore, notAfter);
}

export async function createSubordinateCa(d: CaSetupDeps, issuers: IssuerRegistry, urls: PublicUrls, parentId: string, o: CaOptions): Promise<CaRecord> {
  const parent = issuers.get(parentId);
  if (!parent.signer) throw new FlintError('unavailable', `parent CA ${parentId} is offline`);
  const signer = await generateKey(d, o.keyLabel, o.keyType, o.actor);
  const now = d.clock();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(Math.min(now.getTime() + o.validityDays * 86_400_000, parent.record.notAfter.getTime()));
  const tbs = buildTbsCertificate({
    serial: newSerial(d.random).bytes,
    signatureAlgorithm: signatureAlgorithmIdentifier(parent.signer.algorithm),
    issuer: parent.cert.subjectDer,
    notBefore,
    notAfter,
    subject: o.subject,
    subjectPublicKeyInfo: signer.publicKey,
    sans: { dns: [], ip: [], email: [], uri: [] },
    keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
    extKeyUsage: [],
    basicConstraints: { ca: true, pathLen: o.pathLen ?? 0 },
    authorityKeyId: parent.cert.subjectKeyId,
    subjectKeyId: true,
    crlDistributionPoints: [urls.crl(parentId)],
    caIssuersUrls: [urls.caIssuers(parentId)],
    nameConstraints: o.nameConstraints,
    policies: o.policies,
  });
  const der = await signCaCert(parent.signer, parent.publicKey, tbs);
  return storeCa(d, o, parentId, signer, der, notBefore, notAfter);
}

