import { BROWSER_ROUTES as ROUTES } from '@latchkey/shared';
import type { SessionEndedData } from '@latchkey/shared';
import { backoffDelay } from '../core/backoff.js';
import type { SessionClient } from '../core/types.js';

export interface Live {
  /** Calls `listener` when the user's device list changed (pushed to any tab), and when the stream (re)connects. */
  onDevicesChanged(listener: () => void): () => void;
  /** Closes the stream, lets go of the lock and leaves the channel. */
  close(): void;
}

const ignore = () => {};

/**
 * Pushes from the BFF (`GET /events`) to every tab: one EventSource per browser, opened by the tab that holds the
 * Web Lock `<channelName>:live` while signed in. When that tab closes, the browser grants the lock to a waiting tab,
 * which opens the stream in its place. `session_ended` signs out here, and through the core's tab channel every
 * tab; `devices_changed` is relayed on the BroadcastChannel `<channelName>:live`. Without EventSource, Web Locks or
 * BroadcastChannel nothing is opened: sessions end as before, at the next refresh or API call.
 */
export function attachLive(session: SessionClient): Live {
  const { bffUrl, channelName, backoffMinMs, backoffMaxMs } = session.options;
  const name = channelName + ':live';
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  const locks = globalThis.navigator?.locks;
  const live: Live = {
    onDevicesChanged: (listener) => (listeners.add(listener), () => void listeners.delete(listener)),
    close: ignore,
  };
  if (!locks || typeof EventSource != 'function' || typeof BroadcastChannel != 'function') return live;

  const channel = new BroadcastChannel(name);
  channel.onmessage = notify;
  let waiting: AbortController | undefined;
  let release: (() => void) | undefined;
  let source: EventSource | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  // The session the open stream was authenticated as (the cookie at connect time).
  let streamOf: string | undefined;

  const changed = () => {
    notify();
    channel.postMessage(1);
  };

  function connect() {
    source?.close();
    streamOf = session.getSnapshot().session?.id;
    const es = (source = new EventSource(bffUrl + ROUTES.events, { withCredentials: true }));
    // Changes made while this stream was away were not pushed: have the lists reloaded.
    es.onopen = () => {
      failures = 0;
      changed();
    };
    es.addEventListener('devices_changed', changed);
    es.addEventListener('session_ended', (event) => {
      const { sid, reason } = JSON.parse((event as MessageEvent).data) as SessionEndedData;
      if (sid == session.getSnapshot().session?.id) session.end(reason);
    });
    es.onerror = () => {
      // A network error reconnects by itself (after `retry:`); a refusal (401, 429, 503) closes the stream for good.
      if (es.readyState != 2 || !release) return;
      // Refused: the session may be gone; a refresh asks the BFF for the definitive answer (and signs out if so).
      session.refresh().catch(ignore);
      timer = setTimeout(connect, backoffDelay(failures++, backoffMinMs, backoffMaxMs));
    };
  }

  function stop() {
    waiting?.abort();
    waiting = undefined;
    release?.();
    release = undefined;
    source?.close();
    clearTimeout(timer);
  }

  function sync() {
    const { status, session: current } = session.getSnapshot();
    if (status != 'authenticated') return stop();
    // Signed in again as another session without signing out: the stream still speaks for the old one.
    if (release && current!.id != streamOf) connect();
    if (waiting) return;
    waiting = new AbortController();
    locks!
      .request(
        name,
        { signal: waiting.signal },
        () =>
          new Promise<void>((resolve) => {
            release = resolve;
            connect();
          }),
      )
      .catch(ignore);
  }

  const unsubscribe = session.subscribe(sync);
  sync();
  live.close = () => {
    unsubscribe();
    stop();
    channel.close();
  };
  return live;
}
