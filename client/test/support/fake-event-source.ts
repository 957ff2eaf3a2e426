/**
 * A stand-in for the browser's EventSource: tests see every stream a page opened (`FakeEventSource.opened`) and
 * drive it: `open()`, `emit(event, data)`, `refuse()` (the server answered non-200: the browser closes the stream
 * for good), `drop()` (a network error: the browser would reconnect by itself).
 */
export class FakeEventSource extends EventTarget {
  static opened: FakeEventSource[] = [];
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;

  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;

  constructor(
    readonly url: string,
    readonly init?: EventSourceInit,
  ) {
    super();
    FakeEventSource.opened.push(this);
  }

  /** Streams not closed by the page. */
  static live(): FakeEventSource[] {
    return FakeEventSource.opened.filter((s) => s.readyState != 2);
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  emit(event: string, data: unknown): void {
    this.dispatchEvent(new MessageEvent(event, { data: JSON.stringify(data) }));
  }

  refuse(): void {
    this.readyState = 2;
    this.onerror?.(new Event('error'));
  }

  drop(): void {
    this.readyState = 0;
    this.onerror?.(new Event('error'));
  }

  close(): void {
    this.readyState = 2;
  }
}
