/**
 * The one credential rule of a device session, shared by every place that judges a presented cookie: the memory
 * store's rotation, the read-only session check (`resolveSession`), and (as Lua, the same rule line by line) the
 * Redis store's rotation script. The store contract suite runs it on both stores.
 *
 * Pure and import-free on purpose: the stores sit below the session layer and may import this file and nothing
 * else of it (docs/architecture.md).
 */

/** What the rule reads of a stored session. */
export interface CredentialState {
  generation: number;
  credentialHash: string;
  previousHash: string | null;
  successorSealed: string | null;
  graceUntil: number;
}

/**
 * - `current`: the credential of the session's current generation.
 * - `previous`: the one it replaced, within the grace window, its successor not yet used (a concurrent tab, a retry
 *   after a lost response): answered with that same successor, never treated as theft.
 * - `superseded`: an older credential, or the previous one once the grace window has passed: theft.
 * - `mismatch`: not a credential this session issued (a later generation, or the wrong secret for one): not ours.
 */
export type CredentialStanding = 'current' | 'previous' | 'superseded' | 'mismatch';

/** Judges the presented credential (its generation and the SHA-256 of its secret) against the stored session, as of `now`. */
export function credentialStanding(state: CredentialState, presented: { generation: number; credentialHash: string }, now: number): CredentialStanding {
  if (presented.generation > state.generation) return 'mismatch';
  if (presented.generation === state.generation) return presented.credentialHash === state.credentialHash ? 'current' : 'mismatch';
  if (presented.generation === state.generation - 1) {
    if (presented.credentialHash !== state.previousHash) return 'mismatch';
    if (now < state.graceUntil && state.successorSealed !== null) return 'previous';
  }
  // A superseded credential whose successor is already in use (or out of grace).
  return 'superseded';
}
