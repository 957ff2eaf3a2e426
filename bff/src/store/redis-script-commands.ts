import type { RedisClient } from './redis-store-options.js';
import {
  CREATE_SESSION,
  END_ALL_USER_SESSIONS,
  END_SESSION,
  END_SESSIONS_BY_IDP_SID,
  END_TENANT_SESSIONS,
  MARK_TENANT_REVOKED,
  END_USER_SESSION_BY_SID,
  LIST_USER_SESSIONS,
  PUT_KEY_RING,
  REVOKE_JTI,
  ROTATE,
  withBell,
  UPDATE_IDP_TOKENS,
  USE_ONCE,
} from './redis-scripts.js';

/** Script name → number of KEYS; the names are registered on the client with `defineCommand`. */
const SCRIPTS = {
  latchkeyCreateSession: { lua: CREATE_SESSION, numberOfKeys: 4 },
  latchkeyRotate: { lua: ROTATE, numberOfKeys: 2 },
  latchkeyEndSession: { lua: END_SESSION, numberOfKeys: 1 },
  latchkeyEndUserSessionBySid: { lua: END_USER_SESSION_BY_SID, numberOfKeys: 1 },
  latchkeyListUserSessions: { lua: LIST_USER_SESSIONS, numberOfKeys: 1 },
  latchkeyEndAllUserSessions: { lua: END_ALL_USER_SESSIONS, numberOfKeys: 2 },
  latchkeyPutKeyRing: { lua: PUT_KEY_RING, numberOfKeys: 2 },
  latchkeyRevokeJti: { lua: REVOKE_JTI, numberOfKeys: 1 },
  latchkeyEndSessionsByIdpSid: { lua: END_SESSIONS_BY_IDP_SID, numberOfKeys: 1 },
  latchkeyMarkTenantRevoked: { lua: MARK_TENANT_REVOKED, numberOfKeys: 1 },
  latchkeyEndTenantSessions: { lua: END_TENANT_SESSIONS, numberOfKeys: 1 },
  latchkeyUpdateIdpTokens: { lua: UPDATE_IDP_TOKENS, numberOfKeys: 1 },
  latchkeyUseOnce: { lua: USE_ONCE, numberOfKeys: 1 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
export type ScriptArg = string | number;
export type ScriptCommands = Record<ScriptName, (...args: ScriptArg[]) => Promise<unknown>>;
/** A pipeline with the scripts on it (ioredis copies `defineCommand`s onto pipelines); a command only queues there. */
export type ScriptPipeline = Record<ScriptName, (...args: ScriptArg[]) => unknown> & {
  call(command: string, ...args: ScriptArg[]): unknown;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
};

/** Redis PX/PEXPIRE take positive integers; a non-positive TTL means "write no marker". */
export const ttlArg = (ms: number): string => String(Math.max(0, Math.ceil(ms)));

/** Registers every script on the client (a Cluster's bell variant on a Cluster) and returns them as commands. */
export function defineScripts(client: RedisClient, isCluster: boolean): ScriptCommands {
  for (const [name, definition] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, { ...definition, lua: withBell(definition.lua, isCluster) });
  }
  return client as unknown as ScriptCommands;
}
