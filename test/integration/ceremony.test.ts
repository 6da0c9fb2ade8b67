/**
 * Key ceremonies end to end on throwaway SoftHSM tokens, with the built CLI:
 * scripts/ceremony-example/run.sh (offline root token + online token) → `flintca serve` on the
 * result; the chain, OCSP and the root CRL checked by openssl; pkcs11-tool shows the keys
 * sensitive and never extractable; invalid files, wrong PINs and dry runs touch no token;
 * backup → restore from 3 of 5 shares into a fresh token; rollover to a new issuing CA.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certIdOf } from '../../src/protocols/acme/handlers/renewal.js';
import { softHsmAvailable } from '../../src/keys/index.js';
import { fromPem } from '../../src/pki/pem.js';
import { CEREMONY_PINS, newIssuingCa, rolloverToNewIssuingCa, SOFTHSM_MODULE } from '../helpers/ceremony.js';
import { flintca, hasCommand, ROOT, run, serve, type Served } from '../helpers/flintca.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

const MODULE = SOFTHSM_MODULE;
const PINS = CEREMONY_PINS;
const ready = requireTool(softHsmAvailable(), 'softhsm2') && requireTool(hasCommand('pkcs11-tool'), 'pkcs11-tool (opensc)') && requireTool(hasCommand('openssl'), 'openssl');

describe.skipIf(!ready)('key ceremonies (worked example, backup/restore, rollover)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let srv: Served | undefined;
  const p = (...f: string[]) => join(work, ...f);
  /** `flintca ceremony run` in WORKDIR with the example's environment. */
  const ceremony = (file: string, extra: string[] = [], more: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'ceremony', 'run', file, '--operator', 'test-operator', '--transcript-dir', p('transcripts'), ...extra], { cwd: work, env: { ...env, ...more }, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const yaml = (name: string, text: string) => {
    writeFileSync(p(name), text);
    return p(name);
  };
  const objects = (token: string, pin: string) => run('pkcs11-tool', ['--module', MODULE, '--token-label', token, '--login', '--pin', pin, '-O'], { env }).stdout;
  const ocsp = (issuer: string, cert: string, port: number) =>
    run('openssl', ['ocsp', '-issuer', issuer, '-cert', cert, '-url', `http://127.0.0.1:${port}/ocsp`, '-CAfile', p('data/ca/root.crt'), '-no_nonce'], { timeoutMs: 20_000 });
  const issueLeaf = (name: string) => {
    run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p(`${name}.key`), '-subj', `/CN=${name}.internal`, '-addext', `subjectAltName=DNS:${name}.internal`, '-out', p(`${name}.csr`)]);
    const r = flintca(['issue', '--data', p('data'), '--csr', p(`${name}.csr`), '--profile', 'tls-server', '--out', p(`${name}.pem`)], env);
    expect(r.code, r.stderr).toBe(0);
    return p(`${name}.pem`);
  };

  beforeAll(() => {
    tmp = tempDir('flintca-ceremony-');
    work = join(tmp.path, 'work');
    env = { ...process.env, ...PINS, SOFTHSM2_CONF: join(work, 'softhsm2.conf') };
  });
  afterAll(async () => {
    await srv?.stop();
    tmp.cleanup();
  });

  it('run.sh: root → intermediate → sign → ocsp-signer → crl → install; served chain, OCSP and root CRL verify with openssl', async () => {
    const r = spawnSync('bash', [join(ROOT, 'scripts/ceremony-example/run.sh'), work], { env: { ...process.env, ...PINS }, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(existsSync(p('data/ca/root.crt'))).toBe(true);
    const transcripts = readdirSync(p('transcripts')).filter((f) => f.endsWith('.transcript.json'));
    expect(transcripts).toHaveLength(7);
    const rootT = JSON.parse(readFileSync(p('transcripts/root.root.transcript.json'), 'utf8'));
    expect(rootT).toMatchObject({ ceremony: 'root', operator: 'example-operator', result: 'ok' });
    expect(rootT.keys[0].uri).toBe('pkcs11:token=flint-root;object=root-ca-2026;type=private');
    expect(rootT.keys[0].publicKeySha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rootT.certificates[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rootT.file.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.stdout).not.toContain(PINS.CEREMONY_ROOT_PIN);
    // Both audit logs verify: the ceremony log next to the transcripts and the data dir's.
    expect(flintca(['audit', 'verify', '--data', p('transcripts')], env).stdout).toMatch(/audit log OK: 6 records/);
    const dataAudit = flintca(['audit', 'verify', '--data', p('data')], env);
    expect(dataAudit.code, dataAudit.stdout + dataAudit.stderr).toBe(0);

    // The keys are sensitive and never extractable, each on its own token.
    const rootObjs = objects('flint-root', PINS.CEREMONY_ROOT_PIN);
    expect(rootObjs).toMatch(/label:\s+root-ca-2026[\s\S]*?Access:\s+sensitive, always sensitive, never extractable/);
    expect(rootObjs).not.toContain('issuing-ca-2026');
    const onlineObjs = objects('flint-online', PINS.CEREMONY_ONLINE_PIN);
    for (const label of ['issuing-ca-2026', 'ocsp-root', 'audit']) {
      expect(onlineObjs).toMatch(new RegExp(`Private Key Object[^\\n]*\\n\\s+label:\\s+${label}\\n[\\s\\S]*?Access:\\s+sensitive, always sensitive, never extractable`));
    }
    expect(onlineObjs).not.toContain('root-ca-2026');

    srv = await serve(p('data'), [], env);
    const leaf = issueLeaf('app');
    const v = run('openssl', ['verify', '-CAfile', p('data/ca/root.crt'), '-untrusted', p('data/ca/issuing.crt'), leaf]);
    expect(v.stdout, v.stderr).toContain(': OK');
    // The chain as served over HTTP.
    const issuingDer = Buffer.from(await (await fetch(`http://127.0.0.1:${srv.httpPort}/ca/issuing.crt`)).arrayBuffer());
    expect(issuingDer.equals(fromPem(readFileSync(p('data/ca/issuing.crt'), 'utf8'))[0]!)).toBe(true);
    // Root (offline) answers OCSP for the intermediate through its ceremony-signed responder.
    const o1 = ocsp(p('out/root.crt'), p('out/issuing-2026.crt'), srv.httpPort);
    expect(o1.stderr).toContain('Response verify OK');
    expect(o1.stdout).toContain('issuing-2026.crt: good');
    const o2 = ocsp(p('data/ca/issuing.crt'), leaf, srv.httpPort);
    expect(o2.stderr).toContain('Response verify OK');
    expect(o2.stdout).toContain('app.pem: good');
    // The root CRL signed offline is served and verifies.
    writeFileSync(p('root.crl'), Buffer.from(await (await fetch(`http://127.0.0.1:${srv.httpPort}/crl/root.crl`)).arrayBuffer()));
    const crl = run('openssl', ['crl', '-inform', 'DER', '-in', p('root.crl'), '-CAfile', p('data/ca/root.crt'), '-verify', '-noout']);
    expect(crl.stdout + crl.stderr).toContain('verify OK');
    await srv.stop();
    srv = undefined;
  });

  it('invalid ceremony YAML fails before any HSM call, naming the field', () => {
    // A module path that does not exist: any HSM call would fail on it instead.
    const f = yaml('bad.yaml', `ceremony: root
token: { module: /nonexistent/libpkcs11.so, label: x, pin: { env: CEREMONY_ROOT_PIN } }
key: { label: bad-root, type: P-256 }
certificate:
  subject: { CN: Bad }
  validity: { notBefore: '2026-01-01T00:00:00Z', notAfter: 'next year' }
output: { dir: bad-out, name: bad }
`);
    const r = ceremony(f);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('certificate.validity.notAfter');
    expect(r.stderr).not.toMatch(/nonexistent|module/i);
    expect(existsSync(p('bad-out'))).toBe(false);
    // A literal PIN is refused too.
    const lit = ceremony(yaml('lit.yaml', readFileSync(f, 'utf8').replace('{ env: CEREMONY_ROOT_PIN }', '"1234"').replace("'next year'", "'2030-01-01T00:00:00Z'")));
    expect(lit.code).toBe(1);
    expect(lit.stderr).toMatch(/token\.pin: must be \{env: VARIABLE\} or \{file: PATH\}/);
    const v = flintca(['ceremony', 'validate', f], env);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('certificate.validity.notAfter');
  });

  it('a wrong PIN stops with a clear message, no stack trace, PIN not printed; dry run touches nothing', () => {
    const f = yaml('root2.yaml', `ceremony: root
token: { module: ${MODULE}, label: flint-root, pin: { env: CEREMONY_ROOT_PIN } }
key: { label: dry-root, type: P-256 }
certificate:
  subject: { CN: Dry Root }
  validity: { notBefore: '2026-01-01T00:00:00Z', notAfter: '2030-01-01T00:00:00Z' }
output: { dir: dry-out, name: dry }
`);
    const wrong = ceremony(f, [], { CEREMONY_ROOT_PIN: 'not-the-pin-9999' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^flintca: wrong PIN for token "flint-root"/m);
    expect(wrong.stderr + wrong.stdout).not.toContain('not-the-pin-9999');
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(p('dry-out/dry.crt'))).toBe(false);

    const auditBefore = flintca(['audit', 'verify', '--data', p('transcripts')], env).stdout;
    expect(auditBefore).toMatch(/audit log OK: 7 records/); // the 6 ceremonies + the failed one above
    const dry = ceremony(f, ['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('DRY RUN');
    expect(dry.stdout).toContain('token "flint-root"');
    expect(dry.stdout).toContain('"dry-root"');
    expect(dry.stdout).toContain('CN=Dry Root');
    expect(dry.stdout).toContain('dry-out/dry.crt');
    expect(existsSync(p('dry-out/dry.crt'))).toBe(false);
    expect(existsSync(p('transcripts/dry.root.transcript.json'))).toBe(false);
    expect(objects('flint-root', PINS.CEREMONY_ROOT_PIN)).not.toContain('dry-root');
    expect(flintca(['audit', 'verify', '--data', p('transcripts')], env).stdout).toBe(auditBefore);
  });

  it('backup → restore from 3 of 5 shares into a fresh token, which signs; a non-extractable key is refused', () => {
    const tok = (label: string) => `{ module: ${MODULE}, label: ${label}, pin: { env: CEREMONY_ROOT_PIN }, soPin: { env: CEREMONY_ROOT_SO_PIN } }`;
    const root = ceremony(yaml('bk-root.yaml', `ceremony: root
token: ${tok('flint-root')}
key: { label: backed-root, type: P-256, backup: true }
certificate:
  subject: { CN: Backed Up Root }
  validity: { notBefore: '2026-01-01T00:00:00Z', notAfter: '2036-01-01T00:00:00Z' }
output: { dir: bk, name: backed-root }
`));
    expect(root.code, root.stderr).toBe(0);
    expect(objects('flint-root', PINS.CEREMONY_ROOT_PIN)).toMatch(/label:\s+backed-root[\s\S]*?Access:\s+sensitive, always sensitive, extractable/);
    const custodians = ['alice', 'bob', 'carol', 'dave', 'erin'];
    const backup = ceremony(yaml('bk.yaml', `ceremony: backup
token: ${tok('flint-root')}
keyLabel: backed-root
certificate: bk/backed-root.crt
shares: { threshold: 3, custodians: [${custodians.join(', ')}] }
output: { dir: bk, name: backed-root }
`));
    expect(backup.code, backup.stderr).toBe(0);
    const shares = custodians.map((c, i) => `bk/backed-root.share-${i + 1}-${c}.txt`);
    for (const s of shares) expect(readFileSync(p(s), 'utf8')).toMatch(/^Flint CA key backup share\n/);
    const blob = JSON.parse(readFileSync(p('bk/backed-root.backup.json'), 'utf8'));
    expect(blob).toMatchObject({ mechanism: 'CKM_AES_KEY_WRAP_PAD', threshold: 3, label: 'backed-root' });

    // The example root is non-extractable: refused, exit 1, nothing written.
    const refused = ceremony(yaml('bk-bad.yaml', `ceremony: backup
token: ${tok('flint-root')}
keyLabel: root-ca-2026
shares: { threshold: 3, custodians: [${custodians.join(', ')}] }
output: { dir: bk-bad, name: root }
`));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not extractable/);
    expect(existsSync(p('bk-bad/root.backup.json'))).toBe(false);
    expect(existsSync(p('bk-bad/root.share-1-alice.txt'))).toBe(false);

    // A fresh token, then restore from shares 2, 4 and 5.
    const init = run('softhsm2-util', ['--init-token', '--free', '--label', 'restored', '--pin', PINS.CEREMONY_ROOT_PIN, '--so-pin', PINS.CEREMONY_ROOT_SO_PIN], { env });
    expect(init.code, init.stderr).toBe(0);
    const restoreYaml = (picked: string[]) => `ceremony: restore
token: { module: ${MODULE}, label: restored, pin: { env: CEREMONY_ROOT_PIN } }
backup: bk/backed-root.backup.json
shares: [${picked.join(', ')}]
certificate: bk/backed-root.crt
output: { dir: restored, name: backed-root }
`;
    const tooFew = ceremony(yaml('rs-few.yaml', restoreYaml([shares[0]!, shares[1]!])));
    expect(tooFew.code).toBe(1);
    expect(tooFew.stderr).toMatch(/shares: 2 given, backup \w+ needs 3/);
    const restore = ceremony(yaml('rs.yaml', restoreYaml([shares[1]!, shares[3]!, shares[4]!])));
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/signature verifies with bk\/backed-root.crt/);
    // Unwrapped keys are sensitive and not extractable; PKCS#11 never calls them "always sensitive" / "never extractable".
    expect(objects('restored', PINS.CEREMONY_ROOT_PIN)).toMatch(/Private Key Object[^\n]*\n\s+label:\s+backed-root\n[\s\S]*?Access:\s+sensitive\n/);
  });

  it('rollover on a running data dir: new certificates chain to the new CA; the old one still answers OCSP and serves its CRL; ARI says renew now', async () => {
    srv = await serve(p('data'), [], env);
    const before = issueLeaf('old-good');
    const revoked = issueLeaf('old-revoked');
    const serial = run('openssl', ['x509', '-in', revoked, '-noout', '-serial']).stdout.trim().split('=')[1]!;
    expect(flintca(['revoke', '--data', p('data'), '--serial', serial, '--reason', 'keyCompromise'], env).code).toBe(0);

    newIssuingCa(ceremony, yaml, 'http://localhost:8080/crl/root.crl');
    const rootTok = `{ module: ${MODULE}, label: flint-root, pin: { env: CEREMONY_ROOT_PIN } }`;
    const roll = rolloverToNewIssuingCa(ceremony, yaml);
    expect(roll.code, roll.stderr).toBe(0);
    expect(JSON.parse(readFileSync(p('data/flintca.json'), 'utf8')).defaultIssuer).toBe('issuing-2027');
    // The server that was running through the rollover still answers; a restart switches issuance.
    const during = ocsp(p('data/ca/issuing.crt'), before, srv.httpPort);
    expect(during.stdout).toContain('old-good.pem: good');
    await srv.stop();

    // A newer root CRL from a later crl ceremony, published into the data directory (an older one is refused).
    const crl2 = ceremony(yaml('crl2.yaml', `ceremony: crl
token: ${rootTok}
issuer: { keyLabel: root-ca-2026, certificate: out/root.crt }
crl: { number: 2, thisUpdate: '2026-06-01T00:00:00Z', nextUpdate: '2036-01-01T00:00:00Z', revoked: [{ serial: '0badc0de', revokedAt: '2026-06-01T00:00:00Z', reason: cACompromise }] }
output: { dir: out, name: root-crl-2 }
`));
    expect(crl2.code, crl2.stderr).toBe(0);
    const publish = (file: string) => flintca(['ceremony', 'publish', '--data', p('data'), '--ca', 'root', '--crl', p(file), '--operator', 'test-operator'], env);
    const stale = publish('out/root-crl-1.crl');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/CRL number 1 is not newer than the published CRL number 1/);
    expect(publish('out/root-crl-2.crl').code).toBe(0);

    srv = await serve(p('data'), [], env);
    writeFileSync(p('root2.crl'), Buffer.from(await (await fetch(`http://127.0.0.1:${srv.httpPort}/crl/root.crl`)).arrayBuffer()));
    const root2 = run('openssl', ['crl', '-inform', 'DER', '-in', p('root2.crl'), '-CAfile', p('data/ca/root.crt'), '-verify', '-noout', '-text']);
    expect(root2.stdout + root2.stderr).toContain('verify OK');
    expect(root2.stdout).toMatch(/CRL Number:\s*\n\s*2\b/);
    expect(root2.stdout).toContain('0BADC0DE');
    const after = issueLeaf('new');
    const v = run('openssl', ['verify', '-CAfile', p('data/ca/root.crt'), '-untrusted', p('out/issuing-2027.crt'), after]);
    expect(v.stdout, v.stderr).toContain(': OK');
    expect(run('openssl', ['x509', '-in', after, '-noout', '-issuer']).stdout).toContain('Issuing CA 2027');
    // The retiring CA still answers for what it issued, signed for the old CA.
    const good = ocsp(p('data/ca/issuing.crt'), before, srv.httpPort);
    expect(good.stderr).toContain('Response verify OK');
    expect(good.stdout).toContain('old-good.pem: good');
    const bad = ocsp(p('data/ca/issuing.crt'), revoked, srv.httpPort);
    expect(bad.stderr).toContain('Response verify OK');
    expect(bad.stdout).toContain('old-revoked.pem: revoked');
    writeFileSync(p('old.crl'), Buffer.from(await (await fetch(`http://127.0.0.1:${srv.httpPort}/crl/issuing.crl`)).arrayBuffer()));
    writeFileSync(p('old-chain.pem'), readFileSync(p('data/ca/issuing.crt'), 'utf8') + readFileSync(p('data/ca/root.crt'), 'utf8'));
    const crl = run('openssl', ['crl', '-inform', 'DER', '-in', p('old.crl'), '-CAfile', p('old-chain.pem'), '-verify', '-noout', '-text']);
    expect(crl.stdout + crl.stderr).toContain('verify OK');
    expect(crl.stdout.toUpperCase()).toContain(serial.toUpperCase());
    // ARI (RFC 9773): a certificate of the retiring CA should be renewed now.
    const certId = certIdOf(fromPem(readFileSync(before, 'utf8'))[0]!);
    const ari = run('curl', ['-s', '--cacert', p('data/ca/root.crt'), `https://localhost:${srv.httpsPort}/acme/acme/renewal-info/${certId}`], { timeoutMs: 20_000 });
    const window = JSON.parse(ari.stdout).suggestedWindow as { start: string; end: string };
    expect(Date.parse(window.start)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(window.end)).toBeLessThanOrEqual(Date.now() + 2 * 3600_000);
    const newId = certIdOf(fromPem(readFileSync(after, 'utf8'))[0]!);
    const ari2 = JSON.parse(run('curl', ['-s', '--cacert', p('data/ca/root.crt'), `https://localhost:${srv.httpsPort}/acme/acme/renewal-info/${newId}`]).stdout).suggestedWindow;
    expect(Date.parse(ari2.start)).toBeGreaterThan(Date.now() + 86_400_000);
    await srv.stop();
    srv = undefined;
  });
});
