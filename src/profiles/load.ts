/** Loads profiles/*.yaml into immutable Profiles; an invalid file names file, field and reason. */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FlintError } from '../errors/index.js';
import { profileSchema, type Profile } from './schema.js';
import { EXT_KEY_USAGES } from '../pki/types.js';

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export function parseProfile(file: string, text: string): Profile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new FlintError('invalidConfig', `${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const res = profileSchema.safeParse(raw);
  if (!res.success) {
    const reasons = res.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new FlintError('invalidConfig', reasons.join('\n'), { reasons, code: 'profile.invalid' });
  }
  const p = res.data;
  const stem = basename(file).replace(/\.ya?ml$/, '');
  if (p.name !== stem) throw new FlintError('invalidConfig', `${file}: name: "${p.name}" must equal the file name "${stem}"`);
  for (const [i, eku] of p.extKeyUsage.entries()) {
    if (!(eku in EXT_KEY_USAGES) && !/^\d+(\.\d+)+$/.test(eku)) {
      throw new FlintError('invalidConfig', `${file}: extKeyUsage.${i}: "${eku}" is neither a known name (${Object.keys(EXT_KEY_USAGES).join(', ')}) nor a dotted OID`);
    }
  }
  for (const [i, pat] of p.sans.dns.patterns.entries()) {
    try {
      new RegExp(pat);
    } catch {
      throw new FlintError('invalidConfig', `${file}: sans.dns.patterns.${i}: not a valid regular expression`);
    }
  }
  if (!p.keyTypes.rsa && !p.keyTypes.ec && !p.keyTypes.ed25519) throw new FlintError('invalidConfig', `${file}: keyTypes: allows no key type`);
  return deepFreeze(p);
}

/** Loads every *.yaml / *.yml in dir; throws on the first invalid file. */
export function loadProfiles(dir: string): Map<string, Profile> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch {
    throw new FlintError('invalidConfig', `profiles directory ${dir} cannot be read`);
  }
  const out = new Map<string, Profile>();
  for (const f of files) {
    const full = join(dir, f);
    const p = parseProfile(full, readFileSync(full, 'utf8'));
    out.set(p.name, p);
  }
  if (out.size === 0) throw new FlintError('invalidConfig', `profiles directory ${dir} has no profiles`);
  return out;
}
