import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Authenticate } from '@latchkey/bff';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

interface Account {
  id: string;
  name: string;
  scope: string;
  tenant?: string;
  salt: Buffer;
  hash: Buffer;
}

export interface DemoAccount {
  username: string;
  password: string;
  id: string;
  name: string;
  scope: string;
  tenant?: string;
}

/**
 * The demo accounts (SPEC section 3). Their scopes go into their access tokens: only alice may call /api/admin (the
 * application's `admin` scope) and the admin router at /admin (its own `latchkey:admin`, plus `latchkey:keys` for
 * the signing keys): an application's admins are not thereby the deployment's operators. bob belongs to the tenant
 * `builders` (his tokens carry it), so the operators' console can show a tenant revocation; alice has none.
 */
export const DEMO_ACCOUNTS: readonly DemoAccount[] = Object.freeze([
  { username: 'alice', password: 'wonderland', id: 'user-alice', name: 'Alice Liddell', scope: 'profile:read admin latchkey:admin latchkey:keys' },
  { username: 'bob', password: 'builder', id: 'user-bob', name: 'Bob the Builder', scope: 'profile:read', tenant: 'builders' },
]);

/**
 * An `authenticate` callback over an in-memory user table with scrypt hashes. Unknown users are checked against a
 * dummy hash so both failures take the same time and give the same answer.
 */
export async function createDemoAuthenticate(): Promise<Authenticate> {
  const accounts = new Map<string, Account>();
  for (const a of DEMO_ACCOUNTS) {
    const salt = randomBytes(16);
    accounts.set(a.username, {
      id: a.id,
      name: a.name,
      scope: a.scope,
      ...(a.tenant ? { tenant: a.tenant } : {}),
      salt,
      hash: await scryptAsync(a.password, salt, 32),
    });
  }
  const dummy = { salt: randomBytes(16), hash: randomBytes(32) };
  return async (username, password) => {
    const account = accounts.get(username.toLowerCase());
    const { salt, hash } = account ?? dummy;
    const candidate = await scryptAsync(password, salt, 32);
    const matches = timingSafeEqual(candidate, hash);
    return account && matches ? { id: account.id, name: account.name, scope: account.scope, ...(account.tenant ? { tenant: account.tenant } : {}) } : null;
  };
}
