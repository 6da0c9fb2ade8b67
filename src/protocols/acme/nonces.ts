/** Replay nonces (RFC 8555 §6.5) kept in the store: single use across every node, ~1 h lifetime. */
import { randomBytes } from 'node:crypto';
import type { AcmeRepository } from '../../store/acme-types.js';

export const NONCE_TTL_MS = 60 * 60 * 1000;

export class NonceService {
  constructor(private readonly repo: Pick<AcmeRepository, 'addNonce' | 'consumeNonce'>, private readonly clock: () => Date = () => new Date()) {}

  async issue(): Promise<string> {
    const nonce = randomBytes(16).toString('base64url');
    await this.repo.addNonce(nonce, new Date(this.clock().getTime() + NONCE_TTL_MS));
    return nonce;
  }

  /** True when the nonce was issued by us, unexpired and unused; it is used up either way. */
  async consume(nonce: string): Promise<boolean> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(nonce)) return false;
    return this.repo.consumeNonce(nonce, this.clock());
  }
}
