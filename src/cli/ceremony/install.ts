/**
 * `install` and `rollover`: the ceremonies that target a data directory.
 *
 * install turns ceremony outputs into a data directory `flintca serve --data` accepts: flintca.json
 * pointing at the online token (PIN by file reference or FLINTCA_PKCS11_PIN, never copied), the
 * store with the offline root (status `offline`) and the issuing CA(s) whose keys are on the online
 * token, root CRLs signed offline, delegated OCSP responder certificates for the root, the audit key
 * and the HTTPS listener certificate; earlier ceremony transcripts are recorded in its audit log.
 *
 * rollover adds a new issuing CA to an installed data directory and marks the old one `retiring`:
 * it keeps answering OCSP and publishing CRLs for what it issued, new issuance (defaultIssuer and
 * profiles naming it) switches to the new CA, and ACME ARI tells clients of its certificates to
 * renew now. Running servers pick the change up when restarted (one node at a time is fine).
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { AuditLog } from '../../audit/index.js';
import { configPath, Secret, useSoftHsmConf } from '../../config/index.js';
import { describePin, resolvePin, type Ceremony } from '../../config/ceremony.js';
import { Authority, IssuerRegistry, normalizeSerial, publicUrls } from '../../core/index.js';
import { FlintError } from '../../errors/index.js';
import { certificateFingerprint, parseCertificate } from '../../pki/certificate.js';
import { crlSignatureValid, parseCrl, type ParsedCrl } from '../../pki/crl-parse.js';
import { subjectKeyIdentifier } from '../../pki/extensions.js';
import { nameToString } from '../../pki/name.js';
import { toPem } from '../../pki/pem.js';
import type { ParsedCertificate } from '../../pki/types.js';
import { loadProfiles } from '../../profiles/index.js';
import type { CaRecord, CertificateRecord, Store } from '../../store/types.js';
import { issueListenerCertificate, newSecret, SHIPPED_PROFILES_DIR, writeSecret } from '../init.js';
import { assertNewCaDatabaseEmpty, newCaDatabaseUrl, openRuntime, openStoreAt, recordedDatabaseUrl } from '../runtime.js';
import { hashSecret } from '../../config/index.js';
import { describeToken, findKey, parseField, readCertificate, readInput, type Prepared, type RunContext } from './steps.js';
import { sha256 } from './transcript.js';

type Of<K extends Ceremony['ceremony']> = Extract<Ceremony, { ceremony: K }>;

function loadCert(path: string, field: string): { path: string; bytes: Buffer; cert: ParsedCertificate; x509: X509Certificate } {
  const l = readCertificate(path, field);
  return { ...l, x509: new X509Certificate(l.cert.der) };
}

/** Reads a CRL signed offline (`crl` ceremony) and checks it is the CA's, with a number and a nextUpdate. */
export function readOfflineCrl(path: string, field: string, ca: ParsedCertificate): { path: string; bytes: Buffer; crl: ParsedCrl & { number: bigint; nextUpdate: Date } } {
  const bytes = readInput(path, field);
  const crl = parseField(field, () => parseCrl(bytes));
  if (!crl.issuerDer.equals(ca.subjectDer) || !crlSignatureValid(crl.der, ca.subjectPublicKeyInfo)) throw new FlintError('invalidConfig', `${field}: ${path} is not signed by ${nameToString(ca.subject)}`);
  if (crl.number === undefined || !crl.nextUpdate) throw new FlintError('invalidConfig', `${field}: ${path} has no cRLNumber or nextUpdate`);
  return { path, bytes, crl: crl as ParsedCrl & { number: bigint; nextUpdate: Date } };
}

/** Certificates the offline root signed go into the certificate store too, so its OCSP responder knows them. */
export function issuedRecord(cert: ParsedCertificate, issuerId: string, profile: string, requester: string, now: Date): CertificateRecord {
  return {
    serial: normalizeSerial(cert.serialHex), issuerId, subject: nameToString(cert.subject), sans: [], notBefore: cert.notBefore, notAfter: cert.notAfter,
    profile, requester, protocol: 'ceremony', status: 'valid', revokedAt: null, revocationReason: null, der: cert.der, createdAt: now, replaces: null,
  };
}

function caRecord(id: string, parentId: string | null, keyUri: string, cert: ParsedCertificate, status: CaRecord['status'], now: Date): CaRecord {
  return {
    id, parentId, keyUri, certDer: cert.der, subject: nameToString(cert.subject), ski: (cert.subjectKeyId ?? subjectKeyIdentifier(cert.subjectPublicKeyInfo)).toString('hex'),
    notBefore: cert.notBefore, notAfter: cert.notAfter, status, createdAt: now,
  };
}

export function prepareInstall(c: Of<'install'>, logger: Logger, transcriptDir: () => string): Prepared {
  const data = resolve(c.data);
  if (existsSync(data) && readdirSync(data).length > 0) throw new FlintError('invalidConfig', `data: ${c.data} exists and is not empty (install creates a new data directory)`);
  const root = loadCert(c.root.certificate, 'root.certificate');
  if (!root.x509.verify(root.x509.publicKey) || !root.cert.isCA) throw new FlintError('invalidConfig', `root.certificate: ${c.root.certificate} is not a self-signed CA certificate`);
  const ids = new Set([c.root.id]);
  const issuing = c.issuing.map((i, n) => {
    const l = loadCert(i.certificate, `issuing.${n}.certificate`);
    if (ids.has(i.id)) throw new FlintError('invalidConfig', `issuing.${n}.id: "${i.id}" is used twice`);
    ids.add(i.id);
    if (!l.x509.verify(root.x509.publicKey) || !l.cert.issuerDer.equals(root.cert.subjectDer)) throw new FlintError('invalidConfig', `issuing.${n}.certificate: ${i.certificate} is not signed by the root`);
    if (!l.cert.isCA) throw new FlintError('invalidConfig', `issuing.${n}.certificate: not a CA certificate`);
    return { ...i, ...l };
  });
  const defaultIssuer = c.defaultIssuer ?? c.issuing[0]!.id;
  if (!issuing.some((i) => i.id === defaultIssuer)) throw new FlintError('invalidConfig', `defaultIssuer: "${defaultIssuer}" is not one of the issuing CAs`);
  const caCert = (id: string) => (id === c.root.id ? root : issuing.find((i) => i.id === id));
  const responders = c.ocspResponders.map((r, n) => {
    const l = loadCert(r.certificate, `ocspResponders.${n}.certificate`);
    const ca = caCert(r.ca);
    if (!ca) throw new FlintError('invalidConfig', `ocspResponders.${n}.ca: no CA "${r.ca}" in this install`);
    if (!l.x509.verify(ca.x509.publicKey)) throw new FlintError('invalidConfig', `ocspResponders.${n}.certificate: not signed by CA "${r.ca}"`);
    return { ...r, ...l };
  });
  const crls = c.crls.map((f, n) => readOfflineCrl(f, `crls.${n}`, root.cert));
  const softhsmConf = c.softhsmConf ? resolve(c.softhsmConf) : undefined;
  let wroteToDatabase = false; // set once install() has opened the store
  return {
    dataDir: data,
    plan: [
      `create data directory ${data}: flintca.json (name "${c.name}", ${c.publicBaseUrl}, ${c.httpsBaseUrl}), profiles/, ca/, tls/; store ${recordedDatabaseUrl()}${recordedDatabaseUrl().startsWith('sqlite:') ? '' : ' (FLINTCA_DB_URL, must hold no CA yet)'}`,
      `key store: ${describeToken(c.token)}${softhsmConf ? `, SOFTHSM2_CONF ${softhsmConf}` : ''}; flintca.json ${'file' in c.token.pin ? `keyStore.pinFile = ${resolve(c.token.pin.file)}` : `has no PIN: give it to serve as FLINTCA_PKCS11_PIN`}`,
      `root CA "${c.root.id}": ${nameToString(root.cert.subject)} (offline, sha256 ${certificateFingerprint(root.cert.der)})`,
      ...issuing.map((i) => `issuing CA "${i.id}": ${nameToString(i.cert.subject)} (key "${i.keyLabel}" on token "${c.token.label}", sha256 ${certificateFingerprint(i.cert.der)})${i.id === defaultIssuer ? ' — default issuer' : ''}`),
      ...responders.map((r) => `OCSP responder for "${r.ca}": ${nameToString(r.cert.subject)} (key "ocsp-${r.ca}" on token "${c.token.label}") → ocsp/${r.ca}.crt`),
      ...crls.map((x) => `CRL ${x.path}: number ${x.crl.number}, next update ${x.crl.nextUpdate!.toISOString()} → served at /crl/${c.root.id}.crl`),
      `generate the audit checkpoint key "audit" on token "${c.token.label}" (unless present) and the HTTPS key (software, tls/) for ${c.dns.join(', ')}`,
      `record the transcripts in the ceremony transcript directory in the data directory's audit log`,
      `write ca/${c.root.id}.crt, ${issuing.map((i) => `ca/${i.id}.crt`).join(', ')}, ca/chain.pem`,
    ],
    outputs: [],
    // Not inside `data`: a failed install removes what it wrote there.
    defaultTranscriptDir: resolve('transcripts'),
    run: async (ctx) => {
      await assertNewCaDatabaseEmpty();
      try {
        await install(ctx);
      } catch (e) {
        rmSync(data, { recursive: true, force: true });
        // The data directory is gone, but rows already written to PostgreSQL stay (the store has
        // no transaction spanning an install): say so, naming the database without its password.
        if (wroteToDatabase && !recordedDatabaseUrl().startsWith('sqlite:')) {
          const why = e instanceof FlintError ? e.detail : 'internal error';
          throw new FlintError(e instanceof FlintError ? e.kind : 'internal', `${why} (the database ${recordedDatabaseUrl()} now holds part of this install: drop and recreate it before running install again)`, { cause: e });
        }
        throw e;
      }
    },
  };

  async function install(ctx: RunContext): Promise<void> {
    for (const l of [root, ...issuing, ...responders]) ctx.t.input(l.path, l.bytes);
    for (const x of crls) ctx.t.input(x.path, x.bytes);
    const pinFile = 'file' in c.token.pin ? resolve(c.token.pin.file) : undefined;
    const est = c.estPassword ? resolvePin(c.estPassword, 'estPassword') : undefined;
    const scep = c.scepChallenge ? resolvePin(c.scepChallenge, 'scepChallenge') : undefined;
    if (softhsmConf) useSoftHsmConf(softhsmConf);
    const keys = await ctx.openToken(c.token);
    let store: Store | undefined;
    try {
      // Keys first: every issuing CA and responder key must be on the online token.
      const issuingKeys = [];
      for (const i of issuing) {
        const signer = await findKey(keys, i.keyLabel, c.token.label);
        if (!signer.publicKey.equals(i.cert.subjectPublicKeyInfo)) throw new FlintError('invalidConfig', `issuing CA "${i.id}": key "${i.keyLabel}" does not match ${i.path}`);
        issuingKeys.push(signer);
      }
      for (const r of responders) {
        const signer = await findKey(keys, `ocsp-${r.ca}`, c.token.label);
        if (!signer.publicKey.equals(r.cert.subjectPublicKeyInfo)) throw new FlintError('invalidConfig', `OCSP responder for "${r.ca}": key "ocsp-${r.ca}" does not match ${r.path}`);
      }
      for (const sub of ['ca', 'tls', 'profiles', 'ocsp']) mkdirSync(join(data, sub), { recursive: true });
      writeSecret(join(data, 'tls', 'passphrase'), newSecret());
      const host = c.dns.find((n) => !/^[\d.:]+$/.test(n)) ?? 'localhost';
      const fileConfig = {
        version: 1,
        name: c.name,
        publicBaseUrl: c.publicBaseUrl,
        httpsBaseUrl: c.httpsBaseUrl,
        keyStore: { kind: 'pkcs11', ...(c.token.module ? { modulePath: c.token.module } : {}), tokenLabel: c.token.label, ...(pinFile ? { pinFile } : {}), ...(softhsmConf ? { softhsmConf } : {}), poolSize: 4 },
        databaseUrl: recordedDatabaseUrl(),
        profilesDir: 'profiles',
        defaultIssuer,
        tls: { certFile: 'tls/server.crt', keyDir: 'tls', keyLabel: 'tls-server', passphraseFile: 'tls/passphrase' },
        server: { host: '0.0.0.0', httpsPort: Number(new URL(c.httpsBaseUrl).port || 443), httpPort: Number(new URL(c.publicBaseUrl).port || 80) },
        audit: { keyLabel: 'audit', checkpointEvery: 1000, checkpointIntervalSeconds: 300 },
        ...(est ? { est: { users: [{ name: 'est', passwordHash: hashSecret(est.reveal()) }] } } : {}),
        ...(scep ? { scep: { challengeHash: hashSecret(scep.reveal()) } } : {}),
      };
      writeFileSync(configPath(data), JSON.stringify(fileConfig, null, 2) + '\n');
      cpSync(SHIPPED_PROFILES_DIR, join(data, 'profiles'), { recursive: true });
      const profiles = loadProfiles(join(data, 'profiles'));
      store = await openStoreAt(newCaDatabaseUrl(), (f) => join(data, f));
      wroteToDatabase = true;
      const existing = await keys.find('audit');
      const auditKey = existing ?? (await keys.generate('audit', 'P-256'));
      ctx.t.key(auditKey.keyUri, auditKey.keyType, auditKey.publicKey, existing ? 'used' : 'generated', false);
      writeFileSync(join(data, 'ca', 'audit-key.pub.pem'), toPem(auditKey.publicKey, 'PUBLIC KEY'));
      const audit = new AuditLog(store.audit, logger, { signer: auditKey, every: 1000, intervalMs: 3_600_000 });
      const actor = `operator:${ctx.operator}`;
      await recordTranscripts(audit, actor, transcriptDir());
      const now = ctx.clock();
      const rootFp = certificateFingerprint(root.cert.der);
      await store.cas.upsert(caRecord(c.root.id, null, c.root.keyUri ?? `offline:sha256:${rootFp}`, root.cert, 'offline', now), audit.emitted([
        { actor, action: 'ca.install', object: `ca:${c.root.id}`, result: 'ok', data: { subject: nameToString(root.cert.subject), status: 'offline', sha256: rootFp } },
      ]));
      for (const [n, i] of issuing.entries()) {
        const keyUri = issuingKeys[n]!.keyUri;
        await store.cas.upsert(caRecord(i.id, c.root.id, keyUri, i.cert, 'active', now), audit.emitted([
          { actor, action: 'ca.install', object: `ca:${i.id}`, result: 'ok', data: { subject: nameToString(i.cert.subject), parent: c.root.id, keyUri, sha256: certificateFingerprint(i.cert.der) } },
        ]));
        await store.certificates.insert(issuedRecord(i.cert, c.root.id, 'ceremony:sign-intermediate', actor, now));
      }
      for (const r of responders) await store.certificates.insert(issuedRecord(r.cert, r.ca, 'ceremony:ocsp-signer', actor, now));
      for (const x of crls) {
        await store.revocation.saveCrl({ caId: c.root.id, kind: 'full', number: x.crl.number!, baseNumber: null, thisUpdate: x.crl.thisUpdate, nextUpdate: x.crl.nextUpdate!, der: x.crl.der, sourceHash: null });
        await audit.record({ actor, action: 'crl.install', object: `crl:${c.root.id}`, result: 'ok', data: { number: x.crl.number!.toString(), sha256: sha256(x.crl.der), nextUpdate: x.crl.nextUpdate!.toISOString() } });
      }
      for (const r of responders) writeFileSync(join(data, 'ocsp', `${r.ca}.crt`), toPem(r.cert.der, 'CERTIFICATE'));
      const issuers = await IssuerRegistry.load(store.cas, keys);
      const authority = new Authority({ store, audit, issuers, profiles, defaultIssuer, urls: publicUrls(c.publicBaseUrl), clock: () => new Date(), random: (n) => randomBytes(n) });
      const tlsPassphrase = readFileSync(join(data, 'tls', 'passphrase'), 'utf8').trim();
      await issueListenerCertificate({
        config: { path: (p: string) => join(data, p), tls: fileConfig.tls, secrets: { tlsPassphrase: new Secret(tlsPassphrase) } },
        audit, authority, names: c.dns.length ? c.dns : [host], actor,
      });
      writeFileSync(join(data, 'ca', `${c.root.id}.crt`), toPem(root.cert.der, 'CERTIFICATE'));
      if (c.root.id !== 'root') writeFileSync(join(data, 'ca', 'root.crt'), toPem(root.cert.der, 'CERTIFICATE'));
      for (const i of issuing) writeFileSync(join(data, 'ca', `${i.id}.crt`), toPem(i.cert.der, 'CERTIFICATE'));
      writeFileSync(join(data, 'ca', 'chain.pem'), issuers.get(defaultIssuer).chain.map((d) => toPem(d, 'CERTIFICATE')).join(''));
      await audit.close();
      ctx.t.note(`data directory ${data} ready: flintca serve --data ${data}${pinFile ? '' : ` (with FLINTCA_PKCS11_PIN from ${describePin(c.token.pin)})`}`);
    } finally {
      await store?.close().catch(() => undefined);
      await keys.close();
    }
  }
}

/** One audit record per earlier transcript (its SHA-256 and summary), so the data dir's log holds the ceremony history. */
async function recordTranscripts(audit: AuditLog, actor: string, dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.transcript.json')).sort()) {
    const bytes = readFileSync(join(dir, f));
    let t: { ceremony?: string; name?: string; operator?: string; result?: string; finishedAt?: string };
    try {
      t = JSON.parse(bytes.toString('utf8'));
    } catch {
      continue;
    }
    await audit.record({ actor, action: 'ceremony.transcript', object: `transcript:${f}`, result: 'ok', data: { sha256: sha256(bytes), ceremony: t.ceremony, name: t.name, operator: t.operator, result: t.result, finishedAt: t.finishedAt } });
  }
}

export function prepareRollover(c: Of<'rollover'>, logger: Logger): Prepared {
  const data = resolve(c.data);
  if (!existsSync(configPath(data))) throw new FlintError('invalidConfig', `data: ${c.data} has no flintca.json (install first)`);
  const next = loadCert(c.ca.certificate, 'ca.certificate');
  if (!next.cert.isCA) throw new FlintError('invalidConfig', 'ca.certificate: not a CA certificate');
  if (c.ca.id === c.retire) throw new FlintError('invalidConfig', 'ca.id: must differ from retire');
  return {
    dataDir: data,
    plan: [
      `open data directory ${data} (its key store and PIN per flintca.json / FLINTCA_PKCS11_PIN)`,
      `check ${c.ca.certificate} (${nameToString(next.cert.subject)}) chains to a CA in the store and key "${c.ca.keyLabel}" on the online token matches it`,
      `add issuing CA "${c.ca.id}" (active); mark "${c.retire}" retiring (keeps OCSP and CRLs, issues nothing new; ACME ARI says renew now)`,
      `flintca.json defaultIssuer → "${c.ca.id}" if it was "${c.retire}"; profiles naming issuer "${c.retire}" → "${c.ca.id}"`,
      `write ca/${c.ca.id}.crt and ca/chain.pem; restart serve (node by node) to switch`,
    ],
    outputs: [],
    defaultTranscriptDir: join(data, 'ceremonies'),
    run: async (ctx) => {
      ctx.t.input(c.ca.certificate, next.bytes);
      const rt = await openRuntime(data, { logger });
      try {
        const actor = `operator:${ctx.operator}`;
        if (rt.issuers.has(c.ca.id)) throw new FlintError('conflict', `ca.id: a CA named "${c.ca.id}" already exists`);
        const old = rt.issuers.get(c.retire);
        if (old.record.status !== 'active') throw new FlintError('invalidConfig', `retire: CA "${c.retire}" is ${old.record.status}, not active`);
        const parent = rt.issuers.list().find((i) => i.cert.subjectDer.equals(next.cert.issuerDer) && next.x509.verify(new X509Certificate(i.record.certDer).publicKey));
        if (!parent) throw new FlintError('invalidConfig', `ca.certificate: not signed by any CA in ${data}`);
        const signer = await findKey(rt.keys, c.ca.keyLabel, rt.config.keyStore.kind === 'pkcs11' ? rt.config.keyStore.tokenLabel : 'file');
        if (!signer.publicKey.equals(next.cert.subjectPublicKeyInfo)) throw new FlintError('invalidConfig', `ca.keyLabel: key "${c.ca.keyLabel}" does not match ${c.ca.certificate}`);
        ctx.t.key(signer.keyUri, signer.keyType, signer.publicKey, 'used');
        const now = ctx.clock();
        const fp = certificateFingerprint(next.cert.der);
        await rt.store.cas.upsert(caRecord(c.ca.id, parent.id, signer.keyUri, next.cert, 'active', now), rt.audit.emitted([
          { actor, action: 'ca.rollover', object: `ca:${c.ca.id}`, result: 'ok', data: { subject: nameToString(next.cert.subject), parent: parent.id, keyUri: signer.keyUri, sha256: fp, replaces: c.retire } },
        ]));
        if (!(await rt.store.certificates.get(normalizeSerial(next.cert.serialHex)))) await rt.store.certificates.insert(issuedRecord(next.cert, parent.id, 'ceremony:sign-intermediate', actor, now));
        await rt.store.cas.upsert({ ...old.record, status: 'retiring' }, rt.audit.emitted([
          { actor, action: 'ca.retire', object: `ca:${c.retire}`, result: 'ok', data: { successor: c.ca.id } },
        ]));
        const cfgFile = configPath(data);
        const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
        if ((cfg.defaultIssuer ?? 'issuing') === c.retire) {
          cfg.defaultIssuer = c.ca.id;
          writeFileSync(`${cfgFile}.tmp`, JSON.stringify(cfg, null, 2) + '\n');
          renameSync(`${cfgFile}.tmp`, cfgFile);
          ctx.t.note(`flintca.json defaultIssuer: ${c.retire} → ${c.ca.id}`);
        }
        const profDir = rt.config.path(rt.config.profilesDir);
        for (const f of readdirSync(profDir).filter((n) => /\.ya?ml$/.test(n))) {
          const text = readFileSync(join(profDir, f), 'utf8');
          const re = new RegExp(`^(\\s*issuer:\\s*)(["']?)${c.retire.replace(/[.]/g, '\\.')}\\2(\\s*(#.*)?)$`, 'm');
          if (re.test(text)) {
            writeFileSync(join(profDir, f), text.replace(re, `$1$2${c.ca.id}$2$3`));
            ctx.t.note(`profile ${f}: issuer ${c.retire} → ${c.ca.id}`);
          }
        }
        writeFileSync(join(data, 'ca', `${c.ca.id}.crt`), toPem(next.cert.der, 'CERTIFICATE'));
        const chain = [next.cert.der, ...parent.chain];
        writeFileSync(join(data, 'ca', 'chain.pem'), chain.map((d) => toPem(d, 'CERTIFICATE')).join(''));
        ctx.t.note(`CA "${c.ca.id}" active, "${c.retire}" retiring; restart flintca serve to switch issuance`);
      } finally {
        await rt.close();
      }
    },
  };
}

