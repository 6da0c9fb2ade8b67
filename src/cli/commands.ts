/** `flintca issue | revoke | unrevoke | list | audit verify | audit export`. */
import { userInfo } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuditChain, exportAudit } from '../audit/index.js';
import { configPath, loadConfig } from '../config/index.js';
import { SqliteStore } from '../store/index.js';
import { CEREMONY_AUDIT_DB } from './ceremony/run.js';
import { reasonCode, reasonName, REVOCATION_REASONS } from '../core/index.js';
import { FlintError } from '../errors/index.js';
import { toPem } from '../pki/pem.js';
import { parseDuration } from '../profiles/index.js';
import { makeLogger, openRuntime, openStore, readAuditPublicKey } from './runtime.js';

const actor = () => `cli:${userInfo().username}`;
const cliLogger = () => makeLogger('stderr', 'warn');

export async function runIssue(o: { data: string; csr: string; profile: string; out?: string; chain?: boolean }, out: (s: string) => void): Promise<void> {
  let csr: Buffer;
  try {
    csr = readFileSync(o.csr);
  } catch {
    throw new FlintError('malformed', `cannot read CSR file ${o.csr}`);
  }
  const rt = await openRuntime(o.data, { logger: cliLogger() });
  try {
    const issued = await rt.authority.issue({ csr, profile: o.profile, protocol: 'cli', requester: actor() });
    const pem = issued.pem + (o.chain ? issued.chain.slice(0, -1).map((d) => toPem(d, 'CERTIFICATE')).join('') : '');
    if (o.out) {
      writeFileSync(o.out, pem);
      out(`issued serial ${issued.serial} (${issued.record.subject}, until ${issued.notAfter.toISOString()}) → ${o.out}`);
    } else {
      process.stdout.write(pem);
    }
  } finally {
    await rt.close();
  }
}

export function parseReason(r: string | undefined): number {
  if (r === undefined) return REVOCATION_REASONS.unspecified;
  const code = /^\d+$/.test(r) ? Number(r) : reasonCode(r);
  if (code === undefined || reasonName(code) === undefined) throw new FlintError('malformed', `unknown revocation reason "${r}" (one of ${Object.keys(REVOCATION_REASONS).join(', ')})`);
  return code;
}

export async function runRevoke(o: { data: string; serial: string; reason?: string }, out: (s: string) => void): Promise<void> {
  const reason = parseReason(o.reason);
  const rt = await openRuntime(o.data, { logger: cliLogger() });
  try {
    const rec = await rt.authority.revoke(o.serial, { reason, actor: actor() });
    out(`revoked ${rec.serial} (${reasonName(reason)}) at ${rec.revokedAt!.toISOString()}`);
  } finally {
    await rt.close();
  }
}

export async function runUnrevoke(o: { data: string; serial: string }, out: (s: string) => void): Promise<void> {
  const rt = await openRuntime(o.data, { logger: cliLogger() });
  try {
    const rec = await rt.authority.unrevoke(o.serial, actor());
    out(`released ${rec.serial} from certificateHold`);
  } finally {
    await rt.close();
  }
}

export async function runList(o: { data: string; expiringWithin?: string; json?: boolean }, out: (s: string) => void): Promise<void> {
  const config = loadConfig(o.data);
  const store = await openStore(config);
  try {
    const now = new Date();
    let within: number | undefined;
    if (o.expiringWithin) {
      try {
        within = parseDuration(o.expiringWithin);
      } catch (e) {
        throw new FlintError('malformed', `--expiring-within: ${(e as Error).message}`);
      }
    }
    const certs = await store.certificates.list(within !== undefined ? { expiringBefore: new Date(now.getTime() + within), notExpiredAt: now } : {});
    if (o.json) {
      for (const c of certs) out(JSON.stringify({ serial: c.serial, issuer: c.issuerId, subject: c.subject, sans: c.sans, notBefore: c.notBefore, notAfter: c.notAfter, profile: c.profile, protocol: c.protocol, requester: c.requester, status: c.status, revokedAt: c.revokedAt, revocationReason: c.revocationReason === null ? null : reasonName(c.revocationReason), replaces: c.replaces }));
      return;
    }
    out(['SERIAL'.padEnd(34), 'STATUS'.padEnd(8), 'NOT AFTER'.padEnd(21), 'PROFILE'.padEnd(12), 'SUBJECT / NAMES'].join(' '));
    for (const c of certs) out([c.serial.padEnd(34), c.status.padEnd(8), c.notAfter.toISOString().slice(0, 19) + 'Z', c.profile.padEnd(12), `${c.subject} ${c.sans.join(',')}`].join(' '));
  } finally {
    await store.close();
  }
}

export async function runAuditVerify(o: { data: string }, out: (s: string) => void): Promise<boolean> {
  // A key-ceremony transcript directory holds its own audit log (cli/ceremony/run.ts), no flintca.json.
  const ceremonyLog = join(o.data, CEREMONY_AUDIT_DB);
  const ceremonyOnly = !existsSync(configPath(o.data)) && existsSync(ceremonyLog);
  const config = ceremonyOnly ? undefined : loadConfig(o.data);
  const store = config ? await openStore(config) : SqliteStore.open(ceremonyLog);
  try {
    const r = await verifyAuditChain(store.audit, config ? readAuditPublicKey(config) : undefined);
    if (!r.ok) {
      out(`audit log BROKEN at record ${r.firstBroken!.seq}: ${r.firstBroken!.reason}`);
      return false;
    }
    out(`audit log OK: ${r.records} records, ${r.checkpoints} signed checkpoints${r.lastCheckpointSeq ? ` (last at record ${r.lastCheckpointSeq})` : ''}`);
    if (r.unanchored > 0) out(`note: ${r.unanchored} records after the last checkpoint are not yet anchored`);
    return true;
  } finally {
    await store.close();
  }
}

export async function runAuditExport(o: { data: string; since?: string }): Promise<void> {
  let since: Date | undefined;
  if (o.since) {
    since = new Date(o.since);
    if (Number.isNaN(since.getTime())) throw new FlintError('malformed', `--since: "${o.since}" is not an ISO date`);
  }
  const config = loadConfig(o.data);
  const store = await openStore(config);
  try {
    for await (const line of exportAudit(store.audit, since)) {
      if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once('drain', r));
    }
  } finally {
    await store.close();
  }
}
