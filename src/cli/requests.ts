/** `flintca requests list|approve|reject`: the operator side of the shared EST/SCEP approval queue. */
import { userInfo } from 'node:os';
import { loadConfig } from '../config/index.js';
import { FlintError } from '../errors/index.js';
import type { ApprovalStatus } from '../store/types.js';
import { openStore } from './runtime.js';
import { AuditLog } from '../audit/index.js';
import { makeLogger } from './runtime.js';

export async function runRequestsList(o: { data: string; status?: string; json?: boolean }, out: (s: string) => void): Promise<void> {
  const statuses = ['pending', 'approved', 'rejected', 'issued'];
  if (o.status && !statuses.includes(o.status)) throw new FlintError('malformed', `--status must be one of ${statuses.join(', ')}`);
  const store = await openStore(loadConfig(o.data));
  try {
    const reqs = await store.approvals.list(o.status as ApprovalStatus | undefined);
    if (o.json) {
      for (const r of reqs) out(JSON.stringify({ id: r.id, protocol: r.protocol, label: r.label, profile: r.profile, requester: r.requester, subject: r.subject, sans: r.sans, status: r.status, createdAt: r.createdAt, decidedBy: r.decidedBy, reason: r.reason, serial: r.serial }));
      return;
    }
    out(['ID'.padEnd(40), 'PROTO', 'LABEL'.padEnd(10), 'STATUS'.padEnd(9), 'SUBJECT'].join(' '));
    for (const r of reqs) out([r.id.padEnd(40), r.protocol.padEnd(5), r.label.padEnd(10), r.status.padEnd(9), `${r.subject} ${r.sans.join(',')}`].join(' '));
  } finally {
    await store.close();
  }
}

export async function runRequestsDecide(o: { data: string; id: string; reason?: string }, decision: 'approved' | 'rejected', out: (s: string) => void): Promise<void> {
  const store = await openStore(loadConfig(o.data));
  const actor = `cli:${userInfo().username}`;
  const audit = new AuditLog(store.audit, makeLogger('stderr', 'warn'));
  try {
    const req = await store.approvals.get(o.id);
    const action = decision === 'approved' ? 'approval.approve' : 'approval.reject';
    if (!req || req.status !== 'pending') {
      const e = !req ? new FlintError('notFound', `no request with id ${o.id}`) : new FlintError('conflict', `request ${o.id} is ${req.status}, not pending`);
      await audit.record({ actor, action, object: `approval:${o.id}`, result: 'denied', reason: e.detail });
      throw e;
    }
    const ok = await store.approvals.decide(o.id, decision, actor, o.reason ?? null, audit.emitted([{ actor, action, object: `approval:${o.id}`, result: 'ok', reason: o.reason, data: { protocol: req.protocol, label: req.label, subject: req.subject } }]));
    if (!ok) throw new FlintError('conflict', `request ${o.id} was decided concurrently`);
    out(`${decision} ${o.id} (${req.protocol} ${req.label}: ${req.subject})`);
  } finally {
    await store.close();
  }
}
