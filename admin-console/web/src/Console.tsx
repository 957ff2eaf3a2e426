import { useRef } from 'react';
import type { AdminApi, Operator } from './admin-api.js';
import { FeedCard } from './FeedCard.js';
import { KeysCard } from './KeysCard.js';
import { TenantCard } from './TenantCard.js';
import { TokenCard } from './TokenCard.js';
import { UsersCard, type UsersCardHandle } from './UsersCard.js';

export function Console({ api, operator, feedIntervalMs }: { api: AdminApi; operator: Operator; feedIntervalMs: number }) {
  // A user id clicked in the feed opens that user in the users card.
  const users = useRef<UsersCardHandle>(null);
  return (
    <>
      {operator.tenant !== null && (
        <p className="banner" role="status" data-testid="console-tenant-bound">
          You administer the tenant <strong>{operator.tenant}</strong> only: the actions below reach its users and tokens, nothing else.
        </p>
      )}
      <div className="grid">
        <UsersCard ref={users} api={api} />
        <FeedCard api={api} operator={operator} intervalMs={feedIntervalMs} onUser={(userId) => users.current?.open(userId)} />
        <TenantCard api={api} operator={operator} />
        <TokenCard api={api} operator={operator} />
        <KeysCard api={api} operator={operator} />
      </div>
    </>
  );
}
