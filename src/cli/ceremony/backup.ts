/**
 * `backup` and `restore` ceremonies. Backup: the key (generated with `backup: true`) is wrapped
 * under a fresh AES-256 key (keys/pkcs11/backup.ts), the wrapped blob goes into
 * `<name>.backup.json`, and the AES key exists afterwards only as M-of-N Shamir shares, one text
 * file per custodian (`<name>.share-<i>-<custodian>.txt`, to print and hand over). Restore: any M
 * shares + the backup file → the key on a fresh token, proven by signing and verifying.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import type { Ceremony } from '../../config/ceremony.js';
import { verifySignature } from '../../core/signature.js';
import { FlintError } from '../../errors/index.js';
import { combineShares, formatShare, parseShare, splitSecret, unwrapFromBackup, wrapForBackup, BACKUP_MECHANISM, type WrappedKey } from '../../keys/index.js';
import type { KeyType } from '../../keys/index.js';
import { certificateFingerprint } from '../../pki/certificate.js';
import { toPem } from '../../pki/pem.js';
import { describePin } from '../../config/ceremony.js';
import { sha256 } from './transcript.js';
import { describeToken, outPath, parseField, readCertificate, readInput, writeOutput, type Prepared } from './steps.js';

type Of<K extends Ceremony['ceremony']> = Extract<Ceremony, { ceremony: K }>;

interface BackupFile {
  format: 'flintca-key-backup/1';
  backupId: string;
  keyUri: string;
  label: string;
  keyType: KeyType;
  mechanism: typeof BACKUP_MECHANISM;
  /** Key check value of the AES backup key (not the key). */
  kcv: string;
  publicKey: string;
  wrapped: string;
  certificateSha256?: string;
  threshold: number;
  custodians: string[];
  createdAt: string;
}

function loadCert(path: string | undefined) {
  return path ? readCertificate(path, 'certificate') : undefined;
}

export function prepareBackup(c: Of<'backup'>): Prepared {
  if (!c.token.soPin) throw new FlintError('invalidConfig', 'token.soPin: required for backup (only the security officer can mark the wrapping key CKA_TRUSTED)');
  const cert = loadCert(c.certificate);
  const file = outPath(c.output, '.backup.json');
  const shareFiles = c.shares.custodians.map((name, i) => outPath(c.output, `.share-${i + 1}-${name}.txt`));
  return {
    plan: [
      `open ${describeToken(c.token)}; security-officer PIN from ${describePin(c.token.soPin)}`,
      `check that key "${c.keyLabel}" is sensitive, extractable and CKA_WRAP_WITH_TRUSTED (generated with backup: true); stop otherwise`,
      `as SO: create a trusted AES-256 session wrapping key; as user: wrap "${c.keyLabel}" with ${BACKUP_MECHANISM}; destroy the wrapping key`,
      `split the wrapping key into ${c.shares.custodians.length} shares, any ${c.shares.threshold} restore: ${c.shares.custodians.join(', ')}`,
      `write ${file}`,
      ...shareFiles.map((f) => `write ${f}`),
    ],
    outputs: [file, ...shareFiles],
    defaultTranscriptDir: c.output.dir,
    run: async (ctx) => {
      if (cert) ctx.t.input(c.certificate!, cert.bytes);
      // Both PINs resolved before the token is touched.
      const pin = ctx.pin(c.token, 'pin');
      const soPin = ctx.pin(c.token, 'soPin');
      const { wrapped, backupKey } = wrapForBackup({ modulePath: c.token.module, tokenLabel: c.token.label, pin, soPin, keyLabel: c.keyLabel });
      try {
        if (cert && !cert.cert.subjectPublicKeyInfo.equals(wrapped.publicKey)) throw new FlintError('invalidConfig', `certificate: ${c.certificate} is not the certificate of key "${c.keyLabel}"; no backup or share file was written`);
        ctx.t.key(wrapped.keyUri, wrapped.keyType, wrapped.publicKey, 'wrapped', true);
        const backupId = sha256(wrapped.wrapped).slice(0, 16);
        const shares = await splitSecret(backupKey, c.shares.custodians, c.shares.threshold, backupId);
        const data: BackupFile = {
          format: 'flintca-key-backup/1', backupId, keyUri: wrapped.keyUri, label: wrapped.label, keyType: wrapped.keyType, mechanism: wrapped.mechanism, kcv: wrapped.kcv,
          publicKey: wrapped.publicKey.toString('base64'), wrapped: wrapped.wrapped.toString('base64'),
          ...(cert ? { certificateSha256: certificateFingerprint(cert.cert.der, 'sha256') } : {}),
          threshold: c.shares.threshold, custodians: c.shares.custodians, createdAt: ctx.clock().toISOString(),
        };
        writeOutput(ctx, file, JSON.stringify(data, null, 2) + '\n', 0o600);
        shares.forEach((s, i) => writeOutput(ctx, shareFiles[i]!, formatShare(s), 0o600));
        ctx.t.note(`backup ${backupId}: ${c.shares.threshold} of ${shares.length} shares restore it; hand each share file to its custodian and delete it from this machine`);
      } finally {
        backupKey.fill(0);
      }
    },
  };
}

function loadBackupFile(path: string): { bytes: Buffer; data: BackupFile; key: WrappedKey } {
  const bytes = readInput(path, 'backup');
  const data = parseField('backup', () => {
    const d = JSON.parse(bytes.toString('utf8')) as BackupFile;
    if (d.format !== 'flintca-key-backup/1' || typeof d.wrapped !== 'string' || typeof d.publicKey !== 'string' || typeof d.kcv !== 'string') throw new Error('not a flintca-key-backup/1 file');
    return d;
  });
  return {
    bytes,
    data,
    key: { keyUri: data.keyUri, label: data.label, keyType: data.keyType, publicKey: Buffer.from(data.publicKey, 'base64'), mechanism: data.mechanism, wrapped: Buffer.from(data.wrapped, 'base64'), kcv: data.kcv },
  };
}

export function prepareRestore(c: Of<'restore'>): Prepared {
  const backup = loadBackupFile(c.backup);
  const shares = c.shares.map((f, i) => {
    const bytes = readInput(f, `shares.${i}`);
    return { path: f, bytes, share: parseField(`shares.${i}`, () => parseShare(bytes.toString('utf8'), f)) };
  });
  for (const [i, s] of shares.entries()) {
    if (s.share.backupId !== backup.data.backupId) throw new FlintError('invalidConfig', `shares.${i}: ${s.path} belongs to backup ${s.share.backupId}, not ${backup.data.backupId}`);
  }
  if (shares.length < backup.data.threshold) throw new FlintError('invalidConfig', `shares: ${shares.length} given, backup ${backup.data.backupId} needs ${backup.data.threshold}`);
  const cert = loadCert(c.certificate);
  if (cert && !cert.cert.subjectPublicKeyInfo.equals(backup.key.publicKey)) throw new FlintError('invalidConfig', `certificate: ${c.certificate} is not the certificate of the backed-up key`);
  const label = c.key.label ?? backup.data.label;
  const pub = outPath(c.output, '.pub.pem');
  return {
    plan: [
      `read backup ${c.backup} (${backup.data.backupId}: ${backup.data.keyType} key "${backup.data.label}" from ${backup.data.keyUri})`,
      `combine ${shares.length} shares (${shares.map((s) => s.share.custodian).join(', ')}); check the key check value`,
      `open ${describeToken(c.token)}`,
      `unwrap into token "${c.token.label}" as "${label}": sensitive, ${c.key.backup ? 'extractable only wrapped by a trusted key' : 'non-extractable'}; add its public key object`,
      `prove: sign a random challenge with the restored key and verify it with ${c.certificate ? `the public key of ${c.certificate}` : 'the backed-up public key'}`,
      `write ${pub}`,
    ],
    outputs: [pub],
    defaultTranscriptDir: c.output.dir,
    run: async (ctx) => {
      ctx.t.input(c.backup, backup.bytes);
      for (const s of shares) ctx.t.input(s.path, s.bytes);
      if (cert) ctx.t.input(c.certificate!, cert.bytes);
      const pin = ctx.pin(c.token, 'pin');
      const aes = await combineShares(shares.map((s) => s.share), backup.data.backupId);
      let uri: string;
      try {
        uri = unwrapFromBackup({ modulePath: c.token.module, tokenLabel: c.token.label, pin, label, backup: c.key.backup, key: backup.key, backupKey: aes });
      } finally {
        aes.fill(0);
      }
      // Prove it through the key store Flint serves with: find the pair, sign, verify.
      const keys = await ctx.openToken(c.token);
      try {
        const signer = await keys.find(label);
        if (!signer) throw new FlintError('internal', `restored key "${label}" not found on token "${c.token.label}"`);
        const challenge = Buffer.concat([Buffer.from('flintca restore proof '), randomBytes(32)]);
        const sig = await signer.sign(challenge);
        const pubKey = cert ? cert.cert.subjectPublicKeyInfo : backup.key.publicKey;
        if (!verifySignature(createPublicKey({ key: pubKey, format: 'der', type: 'spki' }), signer.algorithm, challenge, sig)) {
          throw new FlintError('internal', 'the restored key signs, but the signature does not verify with the expected public key');
        }
        ctx.t.key(uri, signer.keyType, signer.publicKey, 'restored', c.key.backup);
        ctx.t.note(`restored key signed a ${challenge.length}-byte challenge (${signer.algorithm}); the signature verifies with ${c.certificate ? c.certificate : 'the backed-up public key'}`);
        writeOutput(ctx, pub, toPem(signer.publicKey, 'PUBLIC KEY'));
      } finally {
        await keys.close();
      }
    },
  };
}
