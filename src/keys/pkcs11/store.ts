/**
 * KeyStore on a PKCS#11 token (graphene-pk11 for objects and sessions, pkcs11js for the hot
 * sign/decrypt calls). References: PKCS#11 v2.40 base spec (§5 functions, §4 objects) and
 * current mechanisms (§2.1 RSA, §2.3 ECDSA); RFC 7512 for key URIs.
 *
 * Concurrency: a pool of `poolSize` sessions, logged in once (login state is per application
 * and token, PKCS#11 §5.6 C_Login, so later sessions inherit it). The module is initialised with
 * CKF_OS_LOCKING_OK: SoftHSM 2.6 crashes or hangs with concurrent sessions otherwise.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
// Namespace import: works with graphene's CJS build under Node and its ES2015 build under bundlers.
import * as graphene from 'graphene-pk11';
import type { Module, Session, Slot } from 'graphene-pk11';
import pkcs11js from 'pkcs11js';
import { FlintError } from '../../errors/index.js';
import { algorithmsFor, ecdsaRawToDer, hashOf, keyFamily } from '../../pki/algorithms.js';
import type { KeyType, SignatureAlgorithm } from '../../pki/algorithms.js';
import type { Decrypter, KeyStore, Signer } from '../types.js';
import { ckrName, errText, keyTemplates, Pkcs11Signer, readPublicKey, SIGN_MECHANISMS, signatureLength } from './objects.js';
import { findSoftHsmModule, SOFTHSM_MODULE_CANDIDATES } from './softhsm.js';
import { parsePkcs11Uri, pkcs11Uri } from './uri.js';

export { parsePkcs11Uri, pkcs11Uri } from './uri.js';

// Session states (PKCS#11 §5.6 CK_STATE); pkcs11js 2.1 does not export them.
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

export interface Pkcs11StoreOptions {
  /** Path of the PKCS#11 library; defaults to the first SoftHSM 2 install found. */
  modulePath?: string;
  tokenLabel: string;
  pin: string;
  /** Sessions kept open for signing (default 4, the default libuv thread-pool size). */
  poolSize?: number;
  /**
   * 'async' runs C_Sign on the libuv thread pool (event loop stays free), 'sync' calls it inline.
   * 'auto' (default) picks per key family what measured faster with 8 signs in flight on SoftHSM
   * 2.6, 2 cores: RSA-2048 async ≈1.7–2.5k/s vs sync ≈1.2–1.5k/s; P-256 sync ≈12–14k/s vs async
   * ≈8–12k/s (an EC sign costs ~70 µs, less than the thread-pool round trip).
   */
  signMode?: 'auto' | 'sync' | 'async';
}

/** Errors after which the session, login or library state is gone: reconnect and retry once. */
const RECONNECT_ERRORS = new Set([
  'CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_DEVICE_ERROR', 'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_MEMORY', 'CKR_TOKEN_NOT_PRESENT', 'CKR_TOKEN_NOT_RECOGNIZED', 'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_USER_NOT_LOGGED_IN', 'CKR_KEY_HANDLE_INVALID', 'CKR_OBJECT_HANDLE_INVALID', 'CKR_OPERATION_ACTIVE',
  'CKR_GENERAL_ERROR', 'CKR_FUNCTION_FAILED',
]);

interface LoadedModule {
  module: Module;
  refs: number;
  /** token label → SHA-256 of the PIN that logged it in, to reject a wrong PIN on CKR_USER_ALREADY_LOGGED_IN. */
  logins: Map<string, { pinHash: Buffer; refs: number }>;
}
/** One loaded, initialised library per path and process; C_Finalize only when the last store closes. */
const modules = new Map<string, LoadedModule>();

export class Pkcs11KeyStore implements KeyStore {
  readonly kind = 'pkcs11' as const;
  readonly tokenLabel: string;
  readonly modulePath: string;
  /** Kept for re-login after a reconnect; never logged, never in an error (a private field, so not even util.inspect shows it). */
  readonly #pin: string;
  readonly #pinHash: Buffer;
  private readonly poolSize: number;
  private readonly signMode: 'auto' | 'sync' | 'async';
  private slot: Slot | undefined;
  private live = new Set<Session>();
  private free: Session[] = [];
  private waiters: { resolve: (s: Session) => void; reject: (e: unknown) => void }[] = [];
  private held = 0;
  private generation = 0;
  private broken = false;
  private closed = false;
  private reconnecting: Promise<void> | undefined;
  private handles = new Map<string, Buffer>();
  private signers = new Map<string, Pkcs11Signer>();
  private genLock: Promise<void> = Promise.resolve();
  private registered = false;

  private constructor(private readonly loaded: LoadedModule, modulePath: string, opts: Pkcs11StoreOptions) {
    this.modulePath = modulePath;
    this.tokenLabel = opts.tokenLabel;
    this.#pin = opts.pin;
    this.#pinHash = createHash('sha256').update(opts.pin, 'utf8').digest();
    this.poolSize = Math.max(1, Math.floor(opts.poolSize ?? 4));
    this.signMode = opts.signMode ?? 'auto';
  }

  /** Loads the module, finds the token, opens the pool and logs in; config faults → 'invalidConfig'. */
  static async open(opts: Pkcs11StoreOptions): Promise<Pkcs11KeyStore> {
    if (!opts.tokenLabel) throw new FlintError('invalidConfig', 'PKCS#11 token label is empty');
    if (!opts.pin) throw new FlintError('invalidConfig', `PKCS#11 PIN for token "${opts.tokenLabel}" is empty`);
    const modulePath = opts.modulePath ?? findSoftHsmModule();
    if (modulePath === undefined) {
      throw new FlintError('invalidConfig', `no PKCS#11 module given and SoftHSM not found in ${SOFTHSM_MODULE_CANDIDATES.join(', ')}`);
    }
    if (!existsSync(modulePath)) throw new FlintError('invalidConfig', `PKCS#11 module not found: ${modulePath}`);
    let loaded = modules.get(modulePath);
    if (!loaded) {
      try {
        loaded = { module: graphene.Module.load(modulePath), refs: 0, logins: new Map() };
      } catch (e) {
        throw new FlintError('invalidConfig', `cannot load PKCS#11 module ${modulePath}: ${errText(e)}`, { cause: e });
      }
      modules.set(modulePath, loaded);
    }
    loaded.refs++;
    const store = new Pkcs11KeyStore(loaded, modulePath, opts);
    // SoftHSM's file token store can miss a token for an instant while another process writes a
    // key into the same token directory (HA nodes sharing one token dir; ~1% of scans measured):
    // on "no token", re-initialise the module (only when no other store in this process uses it)
    // and look again a few times before giving up.
    for (let attempt = 1; ; attempt++) {
      try {
        store.connect(true);
        return store;
      } catch (e) {
        const noToken = e instanceof FlintError && e.code === 'pkcs11.noToken';
        if (!noToken || attempt >= 5) {
          await store.close();
          throw e;
        }
        if (loaded.refs === 1) {
          try {
            loaded.module.finalize();
          } catch {
            /* not initialised: nothing to undo */
          }
        }
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  async generate(label: string, keyType: KeyType, opts: { backup?: boolean } = {}): Promise<Signer> {
    if (!label) throw new FlintError('invalidConfig', 'key label is empty');
    const prev = this.genLock;
    let unlock!: () => void;
    this.genLock = new Promise((r) => (unlock = r));
    await prev;
    try {
      const exists = await this.withSession('find', (s) => s.find({ label }).length > 0);
      if (exists) throw new FlintError('conflict', `a key labelled "${label}" already exists on token "${this.tokenLabel}"`);
      const { mechanism, pub, priv } = keyTemplates(label, keyType, randomBytes(16), opts);
      await this.withSession('generate', (s) =>
        new Promise<void>((resolve, reject) =>
          // Callback form: C_GenerateKeyPair runs on the thread pool (RSA-4096 takes seconds).
          s.generateKeyPair(mechanism, pub, priv, (err) => {
            if (!err) return resolve();
            const ckr = ckrName(err);
            if (ckr === 'CKR_MECHANISM_INVALID' || ckr === 'CKR_CURVE_NOT_SUPPORTED' || ckr === 'CKR_DOMAIN_PARAMS_INVALID') {
              const what = keyType === 'Ed25519' ? 'Ed25519 is' : `${keyType} keys are`;
              return reject(new FlintError('invalidConfig', `${what} not supported on this PKCS#11 token`, { cause: err }));
            }
            reject(err);
          }),
        ),
      );
      const signer = await this.find(label);
      if (!signer) throw new FlintError('unavailable', `generated key "${label}" not found on token "${this.tokenLabel}"`);
      return signer;
    } finally {
      unlock();
    }
  }

  async find(label: string): Promise<Signer | undefined> {
    const cached = this.signers.get(label);
    if (cached) return cached;
    const signer = await this.withSession('find', (s) => this.loadSigner(s, label));
    if (signer) this.signers.set(label, signer);
    return signer;
  }

  async open(keyUri: string): Promise<Signer> {
    const label = this.labelFromUri(keyUri);
    const signer = await this.find(label);
    if (!signer) throw new FlintError('notFound', `no private key labelled "${label}" on token "${this.tokenLabel}"`);
    return signer;
  }

  async decrypter(keyUri: string): Promise<Decrypter> {
    const signer = (await this.open(keyUri)) as Pkcs11Signer;
    if (keyFamily(signer.keyType) !== 'rsa') throw new FlintError('invalidConfig', `key ${keyUri} is ${signer.keyType}, not RSA: it cannot decrypt`);
    const label = signer.label;
    const k = signer.publicKeyObject.asymmetricKeyDetails?.modulusLength ?? 0;
    return {
      keyUri: signer.keyUri,
      decrypt: (ciphertext) => {
        // Bad padding or length is the sender's fault: 'malformed'. Callers (SCEP) must answer it
        // exactly like a failed content decryption, or they hand out a Bleichenbacher oracle.
        const malformed = (cause?: unknown) => new FlintError('malformed', 'RSA decryption failed', { cause });
        if (ciphertext.length !== k / 8) return Promise.reject(malformed());
        return this.withSession('decrypt', async (s) => {
          s.lib.C_DecryptInit(s.handle, { mechanism: pkcs11js.CKM_RSA_PKCS }, this.privateHandle(s, label));
          try {
            return Buffer.from(await s.lib.C_DecryptAsync(s.handle, Buffer.from(ciphertext), Buffer.alloc(k / 8)));
          } catch (e) {
            // SoftHSM 2.6 reports bad PKCS#1 padding as CKR_GENERAL_ERROR, not CKR_ENCRYPTED_DATA_INVALID.
            if (/CKR_(ENCRYPTED_DATA_INVALID|ENCRYPTED_DATA_LEN_RANGE|GENERAL_ERROR)\b/.test(String(e))) throw malformed(e);
            throw e;
          }
        });
      },
    };
  }

  /**
   * Cheap liveness probe, never throws: C_GetTokenInfo, plus C_GetSessionInfo on an idle session
   * (PKCS#11 §6.7.6: a session must not be used by two threads at once) to see we are still
   * logged in. On failure it reconnects once, so /readyz recovers without waiting for a signature.
   */
  async healthy(): Promise<boolean> {
    for (let attempt = 0; attempt < 2 && !this.closed; attempt++) {
      let idle: Session | undefined;
      try {
        if (attempt > 0 || this.broken) await this.reconnect(this.generation);
        idle = this.free.pop();
        if (idle) this.held++;
        if (!this.slot) continue;
        this.slot.lib.C_GetTokenInfo(this.slot.handle);
        if (!idle) return true; // every session is busy signing: the token answers
        const { state } = idle.lib.C_GetSessionInfo(idle.handle);
        if (state === CKS_RW_USER_FUNCTIONS || state === CKS_RO_USER_FUNCTIONS) return true;
      } catch {
        // fall through: reconnect once, then report false
      } finally {
        if (idle) this.release(idle);
      }
    }
    return false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dropPool(new FlintError('unavailable', `PKCS#11 key store for token "${this.tokenLabel}" is closed`));
    // Let in-flight thread-pool calls finish before C_Finalize pulls the library state away.
    for (let waited = 0; this.held > 0 && waited < 30_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    const login = this.loaded.logins.get(this.tokenLabel);
    if (this.registered && login && --login.refs <= 0) this.loaded.logins.delete(this.tokenLabel);
    if (--this.loaded.refs <= 0) {
      modules.delete(this.modulePath);
      try {
        this.loaded.module.finalize();
      } catch {
        // already finalised (e.g. after a device failure): nothing left to release
      }
    }
  }

  // ——— internals ———

  private labelFromUri(keyUri: string): string {
    const uri = parsePkcs11Uri(keyUri);
    if (uri.token !== undefined && uri.token !== this.tokenLabel) {
      throw new FlintError('invalidConfig', `key URI names token "${uri.token}" but this key store is on token "${this.tokenLabel}"`);
    }
    if (uri.type !== undefined && uri.type !== 'private') throw new FlintError('invalidConfig', `key URI must name a private key (type=private), got type=${uri.type}`);
    if (uri.object === undefined) throw new FlintError('invalidConfig', 'key URI has no object= (key label)');
    return uri.object;
  }

  private loadSigner(s: Session, label: string): Pkcs11Signer | undefined {
    const privs = s.find({ class: pkcs11js.CKO_PRIVATE_KEY, label });
    if (privs.length === 0) return undefined;
    if (privs.length > 1) throw new FlintError('conflict', `${privs.length} private keys are labelled "${label}" on token "${this.tokenLabel}"`);
    const priv = privs.items(0);
    const { keyType, publicKeyObject } = readPublicKey(s, priv, label, `key "${label}" on token "${this.tokenLabel}"`);
    this.handles.set(label, priv.handle);
    const uri = pkcs11Uri(this.tokenLabel, label);
    return new Pkcs11Signer(uri, label, keyType, publicKeyObject, (tbs, alg) => this.sign(label, keyType, alg, tbs));
  }

  private sign(label: string, keyType: KeyType, alg: SignatureAlgorithm, tbs: Uint8Array): Promise<Buffer> {
    if (!algorithmsFor(keyType).includes(alg)) {
      return Promise.reject(new FlintError('badSignatureAlgorithm', `${alg} cannot be used with a ${keyType} key`));
    }
    const family = keyFamily(keyType);
    const hash = hashOf(alg);
    // A copy for RSA/EdDSA: the thread-pool C_Sign reads it after we return to the event loop.
    const data = family === 'ec' && hash ? createHash(hash).update(tbs).digest() : Buffer.from(tbs);
    const outLen = signatureLength(keyType);
    const runAsync = this.signMode === 'async' || (this.signMode === 'auto' && family === 'rsa');
    const mech = SIGN_MECHANISMS[alg];
    return this.withSession('sign', async (s) => {
      s.lib.C_SignInit(s.handle, mech, this.privateHandle(s, label));
      const out = Buffer.alloc(outLen);
      const sig = runAsync ? await s.lib.C_SignAsync(s.handle, data, out) : s.lib.C_Sign(s.handle, data, out);
      // CKM_ECDSA returns r||s (PKCS#11 mechanisms §2.3.1); X.509 wants DER ECDSA-Sig-Value.
      return family === 'ec' ? ecdsaRawToDer(sig) : sig;
    });
  }

  /** Object handles stay valid across an application's sessions (PKCS#11 §4.4.1) until re-initialisation. */
  private privateHandle(s: Session, label: string): Buffer {
    let h = this.handles.get(label);
    if (!h) {
      const found = s.find({ class: pkcs11js.CKO_PRIVATE_KEY, label });
      if (found.length === 0) throw new FlintError('notFound', `no private key labelled "${label}" on token "${this.tokenLabel}"`);
      h = found.items(0).handle;
      this.handles.set(label, h);
    }
    return h;
  }

  /** Runs `fn` on a pooled session; on a session/device error reconnects and retries once. */
  private async withSession<T>(what: string, fn: (s: Session) => T | Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const gen = this.generation;
      const s = await this.acquire();
      try {
        return await fn(s);
      } catch (e) {
        if (e instanceof FlintError) throw e;
        const ckr = ckrName(e);
        if (attempt === 0 && ckr !== undefined && RECONNECT_ERRORS.has(ckr)) {
          await this.reconnect(gen);
          continue;
        }
        throw new FlintError('unavailable', `PKCS#11 ${what} on token "${this.tokenLabel}" failed: ${ckr ?? errText(e)}`, { cause: e, retryAfter: 5 });
      } finally {
        this.release(s);
      }
    }
  }

  private async acquire(): Promise<Session> {
    if (this.closed) throw new FlintError('unavailable', `PKCS#11 key store for token "${this.tokenLabel}" is closed`);
    if (this.broken) await this.reconnect(this.generation);
    const s = this.free.pop() ?? (await new Promise<Session>((resolve, reject) => this.waiters.push({ resolve, reject })));
    this.held++;
    return s;
  }

  private release(s: Session): void {
    this.held--;
    if (!this.live.has(s)) return closeQuietly(s); // from a dropped pool
    const w = this.waiters.shift();
    if (w) w.resolve(s);
    else this.free.push(s);
  }

  /** Single-flight: concurrent failures of the same pool generation share one reconnect. */
  private reconnect(failedGen: number): Promise<void> {
    if (this.reconnecting) return this.reconnecting;
    if (failedGen !== this.generation && !this.broken) return Promise.resolve();
    this.reconnecting = (async () => {
      this.dropPool();
      try {
        this.connect(false);
      } catch (e) {
        this.broken = true;
        for (const w of this.waiters.splice(0)) w.reject(e);
        throw e;
      }
    })().finally(() => (this.reconnecting = undefined));
    return this.reconnecting;
  }

  private dropPool(rejectWaitersWith?: unknown): void {
    this.generation++;
    this.handles.clear();
    this.live = new Set();
    for (const s of this.free.splice(0)) closeQuietly(s);
    if (rejectWaitersWith) for (const w of this.waiters.splice(0)) w.reject(rejectWaitersWith);
  }

  /** (Re)initialises the library, finds the token, opens the pool and logs in. */
  private connect(atStart: boolean): void {
    const kind = atStart ? 'invalidConfig' : 'unavailable';
    const where = `token "${this.tokenLabel}" (module ${this.modulePath})`;
    const fail = (what: string, e?: unknown, code?: string) => new FlintError(kind, what, { cause: e, code, retryAfter: atStart ? undefined : 5 });
    const { module } = this.loaded;
    try {
      module.initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }); // ignores CKR_CRYPTOKI_ALREADY_INITIALIZED
    } catch (e) {
      throw fail(`cannot initialise PKCS#11 module ${this.modulePath}: ${ckrName(e) ?? errText(e)}`, e);
    }
    let slot: Slot | undefined;
    const labels: string[] = [];
    try {
      for (const sl of module.getSlots(true)) {
        const label = sl.getToken().label;
        labels.push(JSON.stringify(label));
        if (label === this.tokenLabel) slot = sl;
        if (slot) break;
      }
    } catch (e) {
      throw fail(`cannot list the slots of PKCS#11 module ${this.modulePath}: ${ckrName(e) ?? errText(e)}`, e);
    }
    if (!slot) throw fail(`no token labelled "${this.tokenLabel}" in PKCS#11 module ${this.modulePath} (tokens: ${labels.join(', ') || 'none'})`, undefined, 'pkcs11.noToken');
    const opened: Session[] = [];
    try {
      for (let i = 0; i < this.poolSize; i++) opened.push(slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION));
      this.login(opened[0]!, where, fail);
    } catch (e) {
      opened.forEach(closeQuietly);
      throw e instanceof FlintError ? e : fail(`cannot open sessions on ${where}: ${ckrName(e) ?? errText(e)}`, e);
    }
    this.slot = slot;
    this.live = new Set(opened);
    this.broken = false;
    for (const s of opened) {
      this.held++; // release() decrements
      this.release(s);
    }
  }

  private login(s: Session, where: string, fail: (what: string, e?: unknown) => FlintError): void {
    const known = this.loaded.logins.get(this.tokenLabel);
    let proven = true;
    try {
      s.login(this.#pin, graphene.UserType.USER);
    } catch (e) {
      const ckr = ckrName(e);
      // Login state is per application and token: when another store in this process is logged
      // in, the token does not check our PIN, so compare it with the PIN that logged in.
      if (ckr === 'CKR_USER_ALREADY_LOGGED_IN' && (!known || timingSafeEqual(known.pinHash, this.#pinHash))) proven = false;
      else if (ckr === 'CKR_PIN_INCORRECT' || ckr === 'CKR_PIN_LEN_RANGE' || ckr === 'CKR_USER_ALREADY_LOGGED_IN') throw fail(`wrong PIN for ${where}`);
      else if (ckr === 'CKR_PIN_LOCKED') throw fail(`the user PIN of ${where} is locked; unlock it with the SO PIN`);
      else if (ckr === 'CKR_USER_PIN_NOT_INITIALIZED') throw fail(`${where} has no user PIN; initialise the token first`);
      else throw fail(`cannot log in to ${where}: ${ckr ?? errText(e)}`, e);
    }
    const entry = known ?? { pinHash: this.#pinHash, refs: 0 };
    if (proven) entry.pinHash = this.#pinHash;
    if (!this.registered) entry.refs++;
    this.registered = true;
    this.loaded.logins.set(this.tokenLabel, entry);
  }
}

// ——— small helpers ———

function closeQuietly(s: Session): void {
  try {
    s.close();
  } catch {
    // the session is already gone (closed, finalised, device lost)
  }
}
