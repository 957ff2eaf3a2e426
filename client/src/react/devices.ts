'use client';
// The directive above marks a client module for React Server Components: Next.js App Router can import it.

import { useCallback, useEffect, useState } from 'react';
import type { SessionListEntry } from '@latchkey/shared';
import type { Live } from '../live/index.js';
import { useSession, useSessionClient } from './index.js';

/*
 * `@latchkey/client/react/devices`: the device list as a hook. An entry of its own, like `@latchkey/client/live`
 * (which it pairs with): only the pages that list devices pay for it, and `@latchkey/client/react` stays within the
 * budget every application pays (client/README.md, "Size").
 */

export interface UseDevicesResult {
  /** This user's device sessions (the current one has `current: true`); empty when signed out. */
  devices: SessionListEntry[];
  loading: boolean;
  error: unknown;
  refresh(): Promise<void>;
  /** Revokes a device, then reloads the list. Revoking the current device signs out. */
  revoke(id: string): Promise<void>;
}

/**
 * The user's devices. Pass the handle from `attachLive` (`@latchkey/client/live`) and the list reloads whenever a
 * device signs in or out anywhere; without it, it loads when the session changes and on `refresh()`.
 */
export function useDevices(live?: Pick<Live, 'onDevicesChanged'>): UseDevicesResult {
  const client = useSessionClient();
  const { status, session } = useSession();
  const [state, setState] = useState({ devices: [] as SessionListEntry[], loading: false, error: null as unknown });

  const refresh = useCallback(async () => {
    setState((previous) => ({ ...previous, loading: true }));
    try {
      const devices = await client.listSessions();
      setState({ devices, loading: false, error: null });
    } catch (error) {
      setState((previous) => ({ ...previous, loading: false, error }));
    }
  }, [client]);

  const revoke = useCallback(
    async (id: string) => {
      await client.revokeSession(id);
      // Revoking this device signed us out: there is no list left to load.
      if (client.getSnapshot().status == 'authenticated') await refresh();
    },
    [client, refresh],
  );

  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- refresh catches its errors into the state
  useEffect(() => live?.onDevicesChanged(refresh), [live, refresh]);

  useEffect(() => {
    if (status == 'authenticated') void refresh();
    else setState({ devices: [], loading: false, error: null });
  }, [status, session?.id, refresh]);

  return { ...state, refresh, revoke };
}
