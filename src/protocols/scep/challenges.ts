/**
 * Challenge passwords (RFC 8894 §2.3): the label's static secret (scrypt hash in the config) or
 * a one-time dynamic challenge minted by `flintca scep challenge` or the admin API. Dynamic
 * challenges are 128-bit random values stored as SHA-256, expire, are consumed by one
 * conditional UPDATE (single use across nodes), and may be bound to a common name and DNS names.
 */
import { createHash } from 'node:crypto';
import { verifySecret } from '../../config/password.js';
import { FailureThrottle } from '../../core/failure-throttle.js';
import { FlintError } from '../../errors/index.js';
import type { ParsedCsr } from '../../pki/types.js';
import type { ScepLabel } from './config.js';
import type { ScepPorts } from './ports.js';

export const MAX_CHALLENGE_TTL_MS = 30 * 86_400_000;
const STATIC_CACHE_MS = 60_000;
/** Wrong challenges tolerated per client address in FAILURE_WINDOW_MS before requests are refused unchecked. */
export const MAX_FAILURES = 10;
export const FAILURE_WINDOW_MS = 60_000;

export const hashChallenge = (challenge: string): string => createHash('sha256').update(challenge, 'utf8').digest('hex');

export interface MintRequest {
  label: string;
  ttlMs: number;
  /** Bind to this CSR common name. */
  commonName?: string;
  /** Bind to exactly these DNS names. */
  dns?: string[];
  actor: string;
}

const commonNameOf = (csr: ParsedCsr): string | undefined => csr.subject.find((a) => a.type === 'CN')?.value;
const sameSet = (a: string[], b: string[]) => JSON.stringify([...a].map((s) => s.toLowerCase()).sort()) === JSON.stringify([...b].map((s) => s.toLowerCase()).sort());

export class ScepChallenges {
  private readonly staticOk = new Map<string, number>();
  /** Throttles guessing (and scrypt work) per client address, as EST does for HTTP Basic. */
  private readonly throttle: FailureThrottle;

  constructor(private readonly p: Pick<ScepPorts, 'enrollment' | 'audit' | 'config' | 'clock' | 'random' | 'recentEvents'>) {
    this.throttle = new FailureThrottle(p.recentEvents, 'scep-challenge', p.clock, MAX_FAILURES, FAILURE_WINDOW_MS);
  }

  /** Creates a one-time challenge for a label; returns it (shown once) and its expiry. */
  async mint(r: MintRequest): Promise<{ challenge: string; expiresAt: Date }> {
    if (!this.p.config.labels.has(r.label)) throw new FlintError('notFound', `unknown SCEP label "${r.label}"`, { code: 'scep.unknownLabel' });
    if (!Number.isFinite(r.ttlMs) || r.ttlMs < 1000 || r.ttlMs > MAX_CHALLENGE_TTL_MS) throw new FlintError('malformed', 'ttl must be between 1s and 30d', { code: 'scep.badTtl' });
    const dns = r.dns?.map((d) => d.trim().toLowerCase()).filter(Boolean);
    const challenge = this.p.random(16).toString('hex');
    const now = this.p.clock();
    const expiresAt = new Date(now.getTime() + r.ttlMs);
    const hash = hashChallenge(challenge);
    await this.p.enrollment.createScepChallenge(
      { hash, label: r.label, subject: r.commonName ?? null, sans: dns?.length ? dns.map((d) => `dns:${d}`) : null, createdBy: r.actor, createdAt: now, expiresAt },
      this.p.audit.emitted([{ actor: r.actor, action: 'scep.challenge.create', object: `scep-challenge:${hash.slice(0, 16)}`, result: 'ok', data: { label: r.label, expiresAt: expiresAt.toISOString(), commonName: r.commonName, dns } }]),
    );
    return { challenge, expiresAt };
  }

  /**
   * Checks the CSR's challengePassword for a PKCSReq on `label`; consumes a dynamic challenge.
   * Throws forbidden (FAILURE badRequest) when it is missing, wrong, expired, used or bound to
   * another subject. Returns which kind matched (for the audit record).
   */
  async verify(labelName: string, label: ScepLabel, csr: ParsedCsr, usedBy: string, ip = 'unknown'): Promise<'static' | 'dynamic'> {
    try {
      return await this.check(labelName, label, csr, usedBy, ip);
    } catch (e) {
      // A store that is down says nothing about the password, and a refused attempt was not checked: neither is a guess.
      if (!(e instanceof FlintError && (e.kind === 'unavailable' || e.kind === 'rateLimited'))) await this.throttle.fail(ip);
      throw e;
    }
  }

  private async check(labelName: string, label: ScepLabel, csr: ParsedCsr, usedBy: string, ip: string): Promise<'static' | 'dynamic'> {
    const pw = csr.challengePassword;
    if (!pw) throw new FlintError('forbidden', 'the CSR carries no challengePassword', { code: 'scep.badChallenge' });
    const now = this.p.clock();
    const ch = await this.p.enrollment.getScepChallenge(hashChallenge(pw));
    if (ch && ch.label === labelName) {
      if (ch.usedAt) throw new FlintError('forbidden', 'this one-time challenge password was already used', { code: 'scep.challengeUsed' });
      if (ch.expiresAt <= now) throw new FlintError('forbidden', 'this challenge password has expired', { code: 'scep.challengeExpired' });
      if (ch.subject !== null && ch.subject !== commonNameOf(csr)) throw new FlintError('forbidden', `this challenge password is bound to common name "${ch.subject}"`, { code: 'scep.challengeBinding' });
      if (ch.sans !== null && !sameSet(ch.sans, csr.sans.dns.map((d) => `dns:${d}`))) throw new FlintError('forbidden', `this challenge password is bound to DNS names ${ch.sans.join(', ')}`, { code: 'scep.challengeBinding' });
      if (!(await this.p.enrollment.consumeScepChallenge(ch.hash, labelName, now, usedBy))) throw new FlintError('forbidden', 'this one-time challenge password was already used', { code: 'scep.challengeUsed' });
      return 'dynamic';
    }
    if (label.challengeHash) {
      const key = createHash('sha256').update(`${labelName}\0${pw}`).digest('hex');
      const hit = this.staticOk.get(key);
      if (hit && hit > now.getTime()) return 'static';
      // Only the static challenge can be guessed (dynamic ones are 128-bit random): the throttle
      // stands before its scrypt check, at every node.
      const retryAfter = await this.throttle.retryAfter(ip);
      if (retryAfter !== undefined) throw new FlintError('rateLimited', 'too many wrong challenge passwords from this address; retry later', { code: 'scep.challengeRateLimited', retryAfter });
      if (verifySecret(pw, label.challengeHash)) {
        if (this.staticOk.size > 1000) this.staticOk.clear();
        this.staticOk.set(key, now.getTime() + STATIC_CACHE_MS);
        return 'static';
      }
    }
    throw new FlintError('forbidden', 'wrong challenge password', { code: 'scep.badChallenge' });
  }
}
