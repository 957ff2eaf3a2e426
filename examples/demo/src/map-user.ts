import { defaultMapUser, type MapUser } from '@latchkey/bff';
import { DEMO_ACCOUNTS } from './accounts.js';

/**
 * The demo's `mapUser`: a user of the bundled development IdP (`iss` is its issuer) whose `sub` is a demo account id
 * is that account, so alice is one user whichever way she signs in. A `sub` means nothing outside its issuer: any other
 * issuer's users (LATCHKEY_OIDC_ISSUER, whoever runs it) get the default `${iss}|${sub}`, so another IdP that names a
 * user `user-alice` does not sign in as alice. Without the bundled IdP (`bundledIssuer` undefined) nobody is mapped.
 */
export function createDemoMapUser(bundledIssuer: string | undefined): MapUser {
  return (claims) => {
    const account = bundledIssuer !== undefined && claims.iss === bundledIssuer ? DEMO_ACCOUNTS.find((a) => a.id === claims.sub) : undefined;
    return account ? { id: account.id, name: account.name } : defaultMapUser(claims);
  };
}
