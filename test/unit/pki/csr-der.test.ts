/**
 * pki/csr-der.ts: the DER walk behind parseCsr and spkiKeyType gives exactly what the whole-CSR
 * asn1js decode gives for OpenSSL-made CSRs of every key type, and on mutated input the outcome
 * (result or error) is the asn1js path's.
 */
import { describe, expect, it } from 'vitest';
import { FlintError } from '../../../src/errors/index.js';
import { parseCsr, parseCsrAsn1, spkiKeyType, verifyCsrSignature } from '../../../src/pki/csr.js';
import { spkiKeyTypeDer, walkCsrDer } from '../../../src/pki/csr-der.js';
import { fromPem } from '../../../src/pki/pem.js';
import { ED25519_CSR, P256_CSR, P384_CSR, PSS_CSR, RSA1024_CSR, RSA2048_CSR, RSA3072_CSR, SHA1_CSR } from './fixtures.js';

const CSRS = { P256_CSR, RSA2048_CSR, ED25519_CSR, P384_CSR, RSA1024_CSR, RSA3072_CSR, SHA1_CSR, PSS_CSR };
const derOf = (pem: string) => fromPem(pem, 'CERTIFICATE REQUEST')[0]!;

/** What parsing gives: the ParsedCsr, or the error's kind and detail. */
function outcome(parse: () => unknown): unknown {
  try {
    return parse();
  } catch (e) {
    return e instanceof FlintError ? `${e.kind}: ${e.detail}` : `not a FlintError: ${String(e)}`;
  }
}

describe('CSR DER walk', () => {
  it.each(Object.entries(CSRS))('%s: parseCsr equals the asn1js path (the walk takes all but RSASSA-PSS parameters)', (name, pem) => {
    const der = derOf(pem);
    expect(walkCsrDer(der) !== undefined).toBe(name !== 'PSS_CSR');
    const fast = parseCsr(der);
    expect(fast).toEqual(parseCsrAsn1(der));
    expect(spkiKeyTypeDer(fast.subjectPublicKeyInfo)).toEqual(spkiKeyType(fast.subjectPublicKeyInfo));
    expect(verifyCsrSignature(fast)).toBe(verifyCsrSignature(parseCsrAsn1(der)));
  });

  it('on truncated and byte-flipped CSRs the outcome is the asn1js path’s', () => {
    for (const [name, pem] of Object.entries(CSRS)) {
      const der = derOf(pem);
      // Every byte of the shapes SCEP and EST devices send, a sample of the others.
      const step = name === 'RSA2048_CSR' || name === 'P256_CSR' ? 1 : 7;
      for (let i = 0; i < der.length; i += step) {
        const flipped = Buffer.from(der);
        flipped[i] = flipped[i]! ^ (i % 2 ? 0x01 : 0x80);
        for (const input of [flipped, der.subarray(0, i)]) {
          const [fast, slow] = [outcome(() => parseCsr(input)), outcome(() => parseCsrAsn1(input))];
          if (typeof fast === 'string' || typeof slow === 'string') expect(fast).toBe(slow);
          else expect(fast).toEqual(slow);
        }
      }
    }
  });
});
