import type { SignOutReason } from '@latchkey/shared';
import type { HeldToken } from './held-token.js';

/** What tabs of one browser tell each other. */
export type TabMessage =
  /** A starting tab asks for a token before it spends a refresh. */
  | { type: 'ask' }
  /** A fresh token: after a refresh, a login, or in answer to 'ask'. */
  | { type: 'token'; token: HeldToken }
  /** The session ended in some tab. */
  | { type: 'out'; reason: SignOutReason }
  /** Real user activity in some tab (throttled), so every tab reports the browser's idle time, not its own. */
  | { type: 'active'; at: number };

/** The BroadcastChannel itself: what the client calls of it. */
export interface TabChannel {
  postMessage(message: TabMessage): void;
  close(): void;
}

/** A BroadcastChannel to the other tabs, or undefined where there is none (single-tab behaviour). */
export function openTabChannel(name: string, onMessage: (message: TabMessage) => void): TabChannel | undefined {
  if (typeof BroadcastChannel != 'function') return;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event: MessageEvent<TabMessage>) => onMessage(event.data);
  return channel;
}
