/** CRLReason codes (RFC 5280 §5.3.1). Code 7 is unused by the RFC. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReasonName = keyof typeof REVOCATION_REASONS;

export function reasonCode(name: string): number | undefined {
  return (REVOCATION_REASONS as Record<string, number>)[name];
}

export function reasonName(code: number): RevocationReasonName | undefined {
  return (Object.entries(REVOCATION_REASONS) as [RevocationReasonName, number][]).find(([, c]) => c === code)?.[0];
}
