/**
 * What the client hears from its host: `online` (the network is back), `visible` (the page is shown again): both retry
 * a BFF that could not be reached; `input` (the user pressed, typed, scrolled or touched): real activity, reported to
 * the BFF for its idle timeout.
 */
export type EnvironmentEvent = 'online' | 'visible' | 'input';

/** Starts listening to the host, calling `signal` for each event; returns a function that stops. */
export type SessionEnvironment = (signal: (event: EnvironmentEvent) => void) => () => void;

const TYPES = ['online', 'visibilitychange', 'pointerdown', 'keydown', 'wheel', 'touchstart'];

/**
 * The browser's: window events, in the capture phase so that an application's stopPropagation cannot hide input
 * (`visibilitychange`, fired at the document, reaches the window's capture listener first). Nothing without a document.
 */
export const browserEnvironment: SessionEnvironment = (signal) => {
  const on = ({ type }: Event) =>
    type == 'visibilitychange' ? document.visibilityState == 'visible' && signal('visible') : signal(type == 'online' ? type : 'input');
  const each = (add?: 1) => typeof document == 'object' && TYPES.forEach((type) => (add ? addEventListener : removeEventListener)(type, on, true));
  each(1);
  return () => each();
};
