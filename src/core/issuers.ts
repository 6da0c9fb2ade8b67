/** The issuer registry: root + issuing CA(s), their certificates, chains and signers. */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { FlintError } from '../errors/index.js';
import type { KeyStore, Signer } from '../keys/types.js';
import { parseCertificate } from '../pki/certificate.js';
import { signatureAlgorithmIdentifier, type SignatureAlgorithm } from '../pki/algorithms.js';
import type { ParsedCertificate } from '../pki/types.js';
import type { CaRecord, CaRepository } from '../store/types.js';

export interface Issuer {
  readonly id: string;
  readonly record: CaRecord;
  readonly cert: ParsedCertificate;
  /** Undefined for an offline CA (e.g. a root whose key is on an offline token). */
  readonly signer: Signer | undefined;
  readonly publicKey: KeyObject;
  readonly signatureAlgorithm: SignatureAlgorithm | undefined;
  readonly signatureAlgorithmDer: Buffer | undefined;
  /** DER certificates from this CA up to and including its root. */
  readonly chain: Buffer[];
}

export class IssuerRegistry {
  private readonly byId = new Map<string, Issuer>();

  private constructor(private readonly repo: CaRepository, private readonly keys: KeyStore | undefined) {}

  /** Loads every CA from the store and opens the signers of online CAs. */
  static async load(repo: CaRepository, keys: KeyStore | undefined): Promise<IssuerRegistry> {
    const reg = new IssuerRegistry(repo, keys);
    const records = await repo.list();
    for (const r of records) await reg.add(r, records);
    return reg;
  }

  /** Registers a CA record (after it is stored). */
  async add(record: CaRecord, all?: CaRecord[]): Promise<Issuer> {
    const records = all ?? (await this.repo.list());
    const chain: Buffer[] = [record.certDer];
    let parent = record.parentId;
    const seen = new Set([record.id]);
    while (parent) {
      const p = records.find((r) => r.id === parent);
      if (!p || seen.has(p.id)) break;
      seen.add(p.id);
      chain.push(p.certDer);
      parent = p.parentId;
    }
    let signer: Signer | undefined;
    if (record.status !== 'offline' && this.keys) signer = await this.keys.open(record.keyUri);
    const cert = parseCertificate(record.certDer);
    const issuer: Issuer = {
      id: record.id,
      record,
      cert,
      signer,
      publicKey: createPublicKey({ key: cert.subjectPublicKeyInfo, format: 'der', type: 'spki' }),
      signatureAlgorithm: signer?.algorithm,
      signatureAlgorithmDer: signer ? signatureAlgorithmIdentifier(signer.algorithm) : undefined,
      chain,
    };
    this.byId.set(record.id, issuer);
    return issuer;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): Issuer {
    const i = this.byId.get(id);
    if (!i) throw new FlintError('notFound', `no CA named ${id}`, { code: 'ca.unknown' });
    return i;
  }

  list(): Issuer[] {
    return [...this.byId.values()];
  }

  /** The issuer whose subject key identifier (hex) matches, e.g. from a certificate's AKI. */
  bySki(skiHex: string): Issuer | undefined {
    return this.list().find((i) => i.record.ski === skiHex.toLowerCase());
  }

  /** Every root (self-signed) certificate, DER. */
  roots(): Buffer[] {
    return this.list().filter((i) => i.record.parentId === null).map((i) => i.record.certDer);
  }
}
