import type { BrowserContext } from '@playwright/test';

/**
 * Reports, from inside every page of the device (reloads included), every fetch and XHR response body and header and
 * every EventSource message that contains `eyJ` (the start of any JWT). Returns the sightings.
 */
export async function watchForJwts(context: BrowserContext): Promise<string[]> {
  const sightings: string[] = [];
  await context.exposeBinding('__reportJwt', (_source, where: string) => void sightings.push(where));
  await context.addInitScript(() => {
    const report = (window as unknown as { __reportJwt: (where: string) => void }).__reportJwt;
    const check = (where: string, text: unknown) => {
      if (typeof text === 'string' && text.includes('eyJ')) report(`${where}: ${text.slice(0, 80)}`);
    };
    const fetchOriginal = window.fetch;
    window.fetch = async (...args: Parameters<typeof fetch>) => {
      const response = await fetchOriginal(...args);
      void response
        .clone()
        .text()
        .then((text) => check(`fetch ${response.url}`, text))
        .catch(() => undefined);
      check(`fetch headers ${response.url}`, JSON.stringify([...response.headers]));
      return response;
    };
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (this: XMLHttpRequest, body) {
      this.addEventListener('loadend', () => {
        check(`xhr ${this.responseURL}`, this.responseType === '' || this.responseType === 'text' ? this.responseText : JSON.stringify(this.response));
        check(`xhr headers ${this.responseURL}`, this.getAllResponseHeaders());
      });
      return send.call(this, body);
    };
    const Source = window.EventSource;
    if (Source) {
      window.EventSource = class extends Source {
        constructor(url: string | URL, init?: EventSourceInit) {
          super(url, init);
          const listen = (event: MessageEvent) => check('eventsource', String(event.data));
          for (const type of ['message', 'session_ended', 'devices_changed']) this.addEventListener(type, listen as EventListener);
        }
      } as typeof EventSource;
    }
  });
  return sightings;
}
