/**
 * PEM ("textual encoding", RFC 7468): a base64 body between `-----BEGIN <label>-----` and
 * `-----END <label>-----`. Parsing is strict (RFC 7468 §3 "strict" form, plus whitespace
 * anywhere in the body): broken base64 is an error, never silently truncated DER.
 * Explanatory text before/after blocks is allowed (RFC 7468 §2); RFC 1421 headers are not.
 */
import { FlintError } from '../errors/index.js';

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';
/** RFC 7468 §3: label = [ labelchar *( ["-" / SP] labelchar ) ], labelchar = %x21-2C / %x2E-7E. */
const LABEL = /^(?:[\x21-\x2c\x2e-\x7e](?:[- ]?[\x21-\x2c\x2e-\x7e])*)?$/;
const STRICT_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** DER → PEM with 64-character lines (RFC 7468 §2) and a trailing newline. */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * All PEM blocks of `label` (or of any of several labels, or of every label when none is given),
 * decoded, in file order. Throws FlintError('malformed') when no such block exists, when a
 * BEGIN line has no END line or a different label, or when a body is not valid base64.
 * A linear scan (no backtracking regex over the whole input: bodies can be attacker-sized).
 */
export function fromPem(text: string | Uint8Array, label?: string | readonly string[]): Buffer[] {
  const s = typeof text === 'string' ? text : Buffer.from(text).toString('latin1');
  const wanted = label === undefined ? undefined : typeof label === 'string' ? [label] : label;
  const out: Buffer[] = [];
  for (let pos = s.indexOf(BEGIN); pos !== -1; pos = s.indexOf(BEGIN, pos)) {
    const labelEnd = s.indexOf(DASHES, pos + BEGIN.length);
    const begin = labelEnd === -1 ? '' : s.slice(pos + BEGIN.length, labelEnd);
    if (labelEnd === -1 || !LABEL.test(begin)) throw new FlintError('malformed', 'PEM BEGIN line is malformed');
    const endAt = s.indexOf(END, labelEnd + DASHES.length);
    const endLabelEnd = endAt === -1 ? -1 : s.indexOf(DASHES, endAt + END.length);
    if (endLabelEnd === -1) throw new FlintError('malformed', `PEM block "${begin}" has no END line`);
    const end = s.slice(endAt + END.length, endLabelEnd);
    if (begin !== end) throw new FlintError('malformed', `PEM block "BEGIN ${begin}" ends with "END ${end.slice(0, 64)}"`);
    pos = endLabelEnd + DASHES.length;
    if (wanted && !wanted.includes(begin)) continue;
    const body = s.slice(labelEnd + DASHES.length, endAt).replace(/[ \t\r\n]+/g, '');
    if (body.length === 0) throw new FlintError('malformed', `PEM block "${begin}" is empty`);
    if (body.includes(':')) throw new FlintError('malformed', `PEM block "${begin}" has RFC 1421 headers (encrypted or legacy PEM is not supported)`);
    if (!STRICT_B64.test(body)) throw new FlintError('malformed', `PEM block "${begin}" is not valid base64`);
    out.push(Buffer.from(body, 'base64'));
  }
  if (out.length === 0) {
    const what = wanted ? wanted.map((l) => `"${l}"`).join(' or ') : 'any';
    throw new FlintError('malformed', `no PEM block with label ${what}`);
  }
  return out;
}

/** True when the bytes look like text holding a PEM block rather than DER. */
function looksLikePem(b: Uint8Array): boolean {
  // DER of every structure we read starts with a SEQUENCE tag (0x30 = '0'); PEM with '-' or text.
  return Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, 65536)).toString('latin1').includes('-----BEGIN ');
}

/**
 * Accepts either DER bytes or PEM text (string, or bytes holding PEM) holding exactly one block
 * of `label` (or one of several labels). Returns the DER. Throws FlintError('malformed').
 */
export function derOrPem(input: Uint8Array | string, label: string | readonly string[]): Buffer {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new FlintError('malformed', 'expected DER bytes or PEM text');
  }
  if (input.length === 0) throw new FlintError('malformed', 'empty input');
  if (typeof input === 'string' || looksLikePem(input)) {
    const blocks = fromPem(input, label);
    if (blocks.length > 1) throw new FlintError('malformed', `expected one PEM block, found ${blocks.length}`);
    return blocks[0]!;
  }
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}
