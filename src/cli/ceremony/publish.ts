/**
 * `flintca ceremony publish --data DIR --ca ID [--crl FILE] [--ocsp-cert FILE] --operator NAME`:
 * brings the periodic outputs of offline ceremonies into an installed data directory — a newer
 * CRL of an offline CA (`crl` ceremony; running servers pick it up from the store within a poll
 * interval) and a re-signed delegated OCSP responder certificate (`ocsp-signer`; key `ocsp-<ca>`
 * on the online token; restart serve to use it). Both are checked against the CA's certificate
 * and audited in the data directory's log.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AuditLog } from '../../audit/index.js';
import { loadConfig } from '../../config/index.js';
import { normalizeSerial } from '../../core/index.js';
import { FlintError } from '../../errors/index.js';
import { EXT_KEY_USAGES } from '../../pki/types.js';
import { certificateFingerprint, parseCertificate } from '../../pki/certificate.js';
import { toPem } from '../../pki/pem.js';
import type { KeyStore } from '../../keys/types.js';
import { openKeys, openStore } from '../runtime.js';
import { issuedRecord, readOfflineCrl } from './install.js';
import { findKey, readCertificate } from './steps.js';
import { sha256 } from './transcript.js';

export interface PublishOptions {
  data: string;
  ca: string;
  crl?: string;
  ocspCert?: string;
  operator: string;
}

export async function runPublish(o: PublishOptions, logger: Logger, out: (s: string) => void): Promise<void> {
  if (!o.crl && !o.ocspCert) throw new FlintError('malformed', 'give --crl FILE and/or --ocsp-cert FILE');
  const config = loadConfig(o.data);
  const store = await openStore(config);
  let keys: KeyStore | undefined;
  try {
    const ca = await store.cas.get(o.ca);
    if (!ca) throw new FlintError('notFound', `--ca: no CA named "${o.ca}" in ${config.dataDir}`, { code: 'ca.unknown' });
    const caCert = parseCertificate(ca.certDer);
    // Everything is checked before anything is written.
    const crl = o.crl ? readOfflineCrl(o.crl, '--crl', caCert) : undefined;
    if (crl) {
      const latest = await store.revocation.latestCrl(o.ca, 'full');
      if (latest && crl.crl.number <= latest.number) throw new FlintError('invalidConfig', `--crl: CRL number ${crl.crl.number} is not newer than the published CRL number ${latest.number}`);
    }
    const responder = o.ocspCert ? readCertificate(o.ocspCert, '--ocsp-cert') : undefined;
    if (responder) {
      if (!new X509Certificate(responder.cert.der).verify(new X509Certificate(ca.certDer).publicKey)) throw new FlintError('invalidConfig', `--ocsp-cert: ${o.ocspCert} is not signed by CA "${o.ca}"`);
      if (!responder.cert.extKeyUsage?.includes(EXT_KEY_USAGES.ocspSigning)) throw new FlintError('invalidConfig', `--ocsp-cert: ${o.ocspCert} is not an OCSP signing certificate`);
      keys = await openKeys(config);
      const label = `ocsp-${o.ca}`;
      const signer = await findKey(keys, label, config.keyStore.kind === 'pkcs11' ? config.keyStore.tokenLabel : 'file');
      if (!signer.publicKey.equals(responder.cert.subjectPublicKeyInfo)) throw new FlintError('invalidConfig', `--ocsp-cert: key "${label}" does not match ${o.ocspCert}`);
    }
    const audit = new AuditLog(store.audit, logger);
    const actor = `operator:${o.operator}`;
    if (crl) {
      const c = crl.crl;
      await store.revocation.saveCrl({ caId: o.ca, kind: 'full', number: c.number, baseNumber: null, thisUpdate: c.thisUpdate, nextUpdate: c.nextUpdate, der: c.der, sourceHash: null });
      await audit.record({ actor, action: 'crl.publish', object: `crl:${o.ca}`, result: 'ok', data: { number: c.number.toString(), sha256: sha256(c.der), nextUpdate: c.nextUpdate.toISOString(), entries: c.revokedSerials.length } });
      out(`published CRL number ${c.number} of "${o.ca}" (${c.revokedSerials.length} entries, next update ${c.nextUpdate.toISOString()})`);
    }
    if (responder) {
      const dir = config.path('ocsp');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${o.ca}.crt`);
      writeFileSync(`${file}.tmp`, toPem(responder.cert.der, 'CERTIFICATE'));
      renameSync(`${file}.tmp`, file);
      if (!(await store.certificates.get(normalizeSerial(responder.cert.serialHex)))) await store.certificates.insert(issuedRecord(responder.cert, o.ca, 'ceremony:ocsp-signer', actor, new Date()));
      await audit.record({ actor, action: 'ocsp.responder.install', object: `ca:${o.ca}`, result: 'ok', data: { sha256: certificateFingerprint(responder.cert.der), notAfter: responder.cert.notAfter.toISOString() } });
      out(`installed OCSP responder certificate for "${o.ca}" until ${responder.cert.notAfter.toISOString()} → ${file} (restart serve to use it)`);
    }
  } finally {
    await store.close();
    await keys?.close();
  }
}
