/**
 * `POST /admin/v1/scep/{label}/challenges` body and answer (framework-free; the route and the
 * bearer-token check are wired in cli/admin.ts). In: `{ "ttl": "1h", "commonName": "dev-1",
 * "dns": ["dev-1.iot.internal"] }` (all optional). Out (201): `{ challenge, label, expiresAt }`.
 */
import { z } from 'zod';
import { FlintError } from '../../errors/index.js';
import { parseDuration } from '../../profiles/index.js';
import type { ScepChallenges } from './challenges.js';

export const challengeRequestSchema = z
  .object({
    ttl: z.string().regex(/^\d+(s|m|h|d)$/, 'a duration like 1h, 30m or 7d').default('1h'),
    commonName: z.string().min(1).max(64).optional(),
    dns: z.array(z.string().min(1).max(253)).max(10).optional(),
  })
  .strict();

export async function mintChallengeFromJson(challenges: ScepChallenges, label: string, body: unknown, actor: string): Promise<{ challenge: string; label: string; expiresAt: string }> {
  const r = challengeRequestSchema.safeParse(body ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new FlintError('malformed', `${i.path.join('.') || 'body'}: ${i.message}`, { code: 'admin.badRequest' });
  }
  const { challenge, expiresAt } = await challenges.mint({ label, ttlMs: parseDuration(r.data.ttl), commonName: r.data.commonName, dns: r.data.dns, actor });
  return { challenge, label, expiresAt: expiresAt.toISOString() };
}
