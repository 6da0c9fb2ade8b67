/**
 * Replay nonces (RFC 8555 §6.5), stateless to issue and single use across every node: a nonce is
 * expiry ‖ random ‖ HMAC-SHA256 (truncated) under a key shared through the store; consuming it
 * checks the MAC and the expiry and records it in the store's used-set, which only accepts it once.
 * Issuing costs no store write (every ACME response carries a fresh nonce); ~1 h lifetime.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AcmeRepository } from '../../store/acme-types.js';

export const NONCE_TTL_MS = 60 * 60 * 1000;
const KEY_NAME = 'acme-nonce-hmac';

export class NonceService {
  private key: Promise<Buffer> | undefined;

  constructor(private readonly repo: Pick<AcmeRepository, 'useNonce' | 'sharedSecret'>, private readonly clock: () => Date = () => new Date()) {}

  private hmacKey(): Promise<Buffer> {
    this.key ??= this.repo.sharedSecret(KEY_NAME).catch((e: unknown) => {
      this.key = undefined;
      throw e;
    });
    return this.key;
  }

  private async mac(body: Buffer): Promise<Buffer> {
    return createHmac('sha256', await this.hmacKey()).update(body).digest().subarray(0, 16);
  }

  async issue(): Promise<string> {
    const body = Buffer.alloc(16);
    body.writeUIntBE(Math.floor((this.clock().getTime() + NONCE_TTL_MS) / 1000), 0, 6);
    randomBytes(10).copy(body, 6);
    return Buffer.concat([body, await this.mac(body)]).toString('base64url');
  }

  /** True when the nonce was issued by us, unexpired and unused; it is used up either way. */
  async consume(nonce: string): Promise<boolean> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(nonce)) return false;
    const raw = Buffer.from(nonce, 'base64url');
    const body = raw.subarray(0, 16);
    if (!timingSafeEqual(raw.subarray(16), await this.mac(body))) return false;
    const expires = body.readUIntBE(0, 6) * 1000;
    if (expires <= this.clock().getTime()) return false;
    return this.repo.useNonce(nonce, new Date(expires));
  }
}
