/** EST/SCEP repositories (transactions, one-time challenges, admin tokens, rate limits). Owned by the EST/SCEP work. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface EnrollmentRepository {}
