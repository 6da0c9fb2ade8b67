/** EstHandlers with in-memory ports: challengePassword, approval idempotency, media types. */
import { describe, expect, it } from 'vitest';
import { hashSecret } from '../../../../src/config/password.js';
import { fromPem } from '../../../../src/pki/pem.js';
import { estLabelSchema } from '../../../../src/protocols/est/config.js';
import { checkChannelBinding, EstHandlers } from '../../../../src/protocols/est/handlers.js';
import type { EstPorts, EstRequest } from '../../../../src/protocols/est/ports.js';
import type { ApprovalRepository, ApprovalRequest, CertificateRecord } from '../../../../src/store/types.js';
import type { ParsedCsr } from '../../../../src/pki/types.js';
import { exclusiveRunner } from '../../../../src/core/leases.js';
import { SqliteStore } from '../../../../src/store/index.js';

/** Leases from a real (in-memory) SQLite store: this process is node-a. */
const leaseStore = SqliteStore.open(':memory:');
import { P256_CSR } from '../../pki/fixtures.js';
import { freshRecentEvents } from '../../../helpers/recent-events.js';

const CERT = Buffer.from('3003020107', 'hex');

function memoryApprovals(): ApprovalRepository & { rows: Map<string, ApprovalRequest> } {
  const rows = new Map<string, ApprovalRequest>();
  return {
    rows,
    async submit(r) {
      const row: ApprovalRequest = { ...r, status: 'pending', decidedAt: null, decidedBy: null, reason: null, serial: null };
      if (!rows.has(r.id)) rows.set(r.id, row);
      return rows.get(r.id)!;
    },
    async get(id) {
      return rows.get(id);
    },
    async list() {
      return [...rows.values()];
    },
    async decide(id, decision, actor, reason) {
      const r = rows.get(id);
      if (!r || r.status !== 'pending') return false;
      rows.set(id, { ...r, status: decision, decidedBy: actor, reason });
      return true;
    },
    async markIssued(id, serial) {
      const r = rows.get(id);
      if (!r || r.status !== 'approved') return false;
      rows.set(id, { ...r, status: 'issued', serial });
      return true;
    },
  };
}

function setup(labels: Record<string, object>) {
  const issued: string[] = [];
  const approvals = memoryApprovals();
  const audits: string[] = [];
  const ports: EstPorts = {
    authority: {
      issue: async (r) => {
        issued.push(r.requester);
        return { serial: '07', der: CERT, chain: [], pem: '', issuerId: 'issuing', notBefore: new Date(), notAfter: new Date(), record: {} as CertificateRecord };
      },
      revoke: async () => ({}) as CertificateRecord,
      chain: () => [CERT],
      profile: () => ({ keyTypes: { ec: { curves: ['P-256'] }, rsa: null, ed25519: false } }) as never,
    },
    certificates: { get: async (s) => (s === '07' ? ({ der: CERT } as CertificateRecord) : undefined) },
    approvals,
    exclusive: exclusiveRunner(leaseStore.leases, 'node-a'),
    audit: { record: async (...e) => (audits.push(...e.map((x) => `${x.action}:${x.result}`)), []) },
    config: { users: [{ name: 'est', passwordHash: hashSecret('pw') }], labels: new Map(Object.entries(labels).map(([k, v]) => [k, estLabelSchema.parse(v)])), bootstrapCas: new Map() },
    defaultIssuer: 'issuing',
    clock: () => new Date(),
    recentEvents: freshRecentEvents(),
  };
  return { h: new EstHandlers(ports), issued, approvals, audits };
}

const body = fromPem(P256_CSR)[0]!.toString('base64');
const req = (label: string, extra: Partial<EstRequest> = {}): EstRequest => ({
  label,
  ip: '10.1.1.1',
  contentType: 'application/pkcs10',
  authorization: `Basic ${Buffer.from('est:pw').toString('base64')}`,
  body: Buffer.from(body),
  ...extra,
});

describe('EST handlers', () => {
  it('checks the CSR challengePassword when the label requires it', async () => {
    const { h, audits } = setup({ strict: { requireChallengePassword: true }, ok: {} });
    const denied = await h.handle('simpleenroll', req('strict'));
    expect(denied.status).toBe(403);
    expect(String(denied.body)).toMatch(/challengePassword/);
    expect(audits).toContain('est.simpleenroll:denied');
    expect((await h.handle('csrattrs', req('strict'))).status).toBe(200);
    expect((await h.handle('simpleenroll', req('ok'))).status).toBe(200);
  });

  it('queues once, issues once after approval and answers retries with the stored certificate', async () => {
    const { h, issued, approvals } = setup({ gated: { requireApproval: true } });
    const first = await h.handle('simpleenroll', req('gated'));
    expect(first.status).toBe(202);
    expect(first.headers['Retry-After']).toBe('60');
    expect((await h.handle('simpleenroll', req('gated'))).status).toBe(202);
    expect(approvals.rows.size).toBe(1);
    const [id] = approvals.rows.keys();
    await approvals.decide(id!, 'approved', 'op', null);
    const ok = await h.handle('simpleenroll', req('gated'));
    expect(ok.status).toBe(200);
    expect(ok.headers['Content-Type']).toMatch(/certs-only/);
    const again = await h.handle('simpleenroll', req('gated'));
    expect(again.status).toBe(200);
    expect(again.body).toEqual(ok.body);
    expect(issued).toHaveLength(1);
  });

  it('answers a rejected request with 403 and its reason', async () => {
    const { h, approvals } = setup({ gated: { requireApproval: true } });
    await h.handle('simpleenroll', req('gated'));
    await approvals.decide([...approvals.rows.keys()][0]!, 'rejected', 'op', 'not ours');
    const r = await h.handle('simpleenroll', req('gated'));
    expect(r.status).toBe(403);
    expect(String(r.body)).toMatch(/not ours/);
  });

  it('maps transport problems to 4xx', async () => {
    const { h } = setup({ default: {} });
    expect((await h.handle('simpleenroll', req('default', { contentType: 'application/json' }))).status).toBe(415);
    expect((await h.handle('simpleenroll', req('default', { body: Buffer.alloc(70 * 1024, 0x41) }))).status).toBe(413);
    expect((await h.handle('simpleenroll', req('nope'))).status).toBe(404);
    expect((await h.handle('fullcmc', req('default'))).status).toBe(501);
    expect((await h.handle('simplereenroll', req('default'))).status).toBe(401);
  });

  it('two concurrent retries of an approved request issue one certificate', async () => {
    const { h, approvals, ports } = setupIssuing({ gated: { requireApproval: true } });
    await h.handle('simpleenroll', req('gated'));
    await approvals.decide([...approvals.rows.keys()][0]!, 'approved', 'op', null);
    const [a, b, c] = await Promise.all([h.handle('simpleenroll', req('gated')), h.handle('simpleenroll', req('gated')), h.handle('simpleenroll', req('gated'))]);
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
    expect(ports.serials).toEqual(['01']);
    expect(b.body).toEqual(a.body);
    expect(c.body).toEqual(a.body);
    expect(ports.revoked).toEqual([]);
  });

  it('a holder that outlived its lease and loses markIssued revokes its extra certificate as superseded and answers the winner', async () => {
    const { h, approvals, ports } = setupIssuing({ gated: { requireApproval: true } });
    await h.handle('simpleenroll', req('gated'));
    const id = [...approvals.rows.keys()][0]!;
    await approvals.decide(id, 'approved', 'op', null);
    ports.records.set('aa', { der: Buffer.from('3003020199', 'hex') } as CertificateRecord);
    // Another node issues serial aa between our issue() and our markIssued().
    approvals.markIssued = async (rid, _serial) => {
      const r = approvals.rows.get(rid)!;
      approvals.rows.set(rid, { ...r, status: 'issued', serial: 'aa' });
      return false;
    };
    const r = await h.handle('simpleenroll', req('gated'));
    expect(r.status).toBe(200);
    expect(ports.serials).toEqual(['01']);
    expect(ports.revoked).toEqual([{ serial: '01', reason: 4 }]);
    const winner = await h.handle('simpleenroll', req('gated'));
    expect(winner.body).toEqual(r.body);
    expect(ports.serials).toEqual(['01']);
  });

  it('while another node holds the approval lease it answers 202 and issues nothing; afterwards it issues', async () => {
    const { h, approvals, ports } = setupIssuing({ gated: { requireApproval: true } });
    await h.handle('simpleenroll', req('gated'));
    const id = [...approvals.rows.keys()][0]!;
    await approvals.decide(id, 'approved', 'op', null);
    expect(await leaseStore.leases.acquire(`approval:${id}`, 'node-b', 60_000)).toBe(true);
    const busy = await h.handle('simpleenroll', req('gated'));
    expect(busy.status).toBe(202);
    expect(busy.headers['Retry-After']).toBeDefined();
    expect(ports.serials).toEqual([]);
    await leaseStore.leases.release(`approval:${id}`, 'node-b');
    expect((await h.handle('simpleenroll', req('gated'))).status).toBe(200);
    expect(ports.serials).toEqual(['01']);
    expect(await leaseStore.leases.get(`approval:${id}`)).toBeUndefined(); // released after issuing
  });

  it('channel binding: the CSR challengePassword must be the base64 tls-unique or tls-exporter value', async () => {
    const exporter = Buffer.alloc(32, 7);
    const unique = Buffer.alloc(12, 9);
    const csr = (pw?: string) => ({ challengePassword: pw }) as ParsedCsr;
    const r = (cb?: EstRequest['channelBinding']) => req('cb', { channelBinding: cb });
    expect(() => checkChannelBinding(r({ tlsExporter: exporter }), csr(exporter.toString('base64')))).not.toThrow();
    expect(() => checkChannelBinding(r({ tlsExporter: exporter, tlsUnique: unique }), csr(unique.toString('base64')))).not.toThrow();
    expect(() => checkChannelBinding(r({ tlsExporter: exporter }), csr(unique.toString('base64')))).toThrow(/does not match/);
    expect(() => checkChannelBinding(r({ tlsExporter: exporter }), csr())).toThrow(/missing/);
    expect(() => checkChannelBinding(r(undefined), csr('x'))).toThrow(/TLS connection/);

    const { h, audits } = setup({ cb: { channelBinding: true } });
    const denied = await h.handle('simpleenroll', r({ tlsExporter: exporter })); // fixture CSR's password is s3cret-Challenge
    expect(denied.status).toBe(400);
    expect(String(denied.body)).toMatch(/channel binding/);
    expect(audits).toContain('est.simpleenroll:denied');
    const attrs = await h.handle('csrattrs', req('cb'));
    expect(Buffer.from(String(attrs.body), 'base64').toString('hex')).toContain('06092a864886f70d010907'); // challengePassword OID
    expect(() => estLabelSchema.parse({ channelBinding: true, requireChallengePassword: true })).toThrow(/enable only one/);
  });
});

/** Like setup(), but issue() hands out increasing serials that certificates.get finds, and revoke() is recorded. */
function setupIssuing(labels: Record<string, object>) {
  const approvals = memoryApprovals();
  const records = new Map<string, CertificateRecord>();
  const serials: string[] = [];
  const revoked: { serial: string; reason: number | undefined }[] = [];
  const ports: EstPorts = {
    authority: {
      issue: async () => {
        await new Promise((r) => setTimeout(r, 5)); // let concurrent retries interleave
        const serial = (serials.length + 1).toString(16).padStart(2, '0');
        serials.push(serial);
        const der = Buffer.from(`30030201${serial}`, 'hex');
        records.set(serial, { der } as CertificateRecord);
        return { serial, der, chain: [], pem: '', issuerId: 'issuing', notBefore: new Date(), notAfter: new Date(), record: {} as CertificateRecord };
      },
      revoke: async (serial, opts) => (revoked.push({ serial, reason: opts.reason }), {} as CertificateRecord),
      chain: () => [CERT],
      profile: () => ({ keyTypes: { ec: { curves: ['P-256'] }, rsa: null, ed25519: false } }) as never,
    },
    certificates: { get: async (s) => records.get(s) },
    approvals,
    exclusive: exclusiveRunner(leaseStore.leases, 'node-a'),
    audit: { record: async () => [] },
    config: { users: [{ name: 'est', passwordHash: hashSecret('pw') }], labels: new Map(Object.entries(labels).map(([k, v]) => [k, estLabelSchema.parse(v)])), bootstrapCas: new Map() },
    defaultIssuer: 'issuing',
    clock: () => new Date(),
    recentEvents: freshRecentEvents(),
  };
  return { h: new EstHandlers(ports), approvals, ports: { records, serials, revoked } };
}
