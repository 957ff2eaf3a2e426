import type * as OtelApi from '@opentelemetry/api';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { StoreUnavailableError } from '../store/types.js';

/**
 * OpenTelemetry tracing through `@opentelemetry/api`, an optional peer dependency. The API is imported dynamically,
 * once per createBff: a static import of a package that is not installed would stop the BFF from loading at all.
 * Spans go to the tracer provider the application registered globally (as every OpenTelemetry instrumentation
 * does), or to the `tracing.tracerProvider` option. Without the API nothing is loaded and the routes and the guard
 * skip every tracing call; with the API but no registered provider, the API's no-op tracer answers (non-recording
 * spans, no attributes set).
 *
 * The types below are Latchkey's own, structurally compatible with the API's, so the published declarations never
 * name `@opentelemetry/api` (an application without it still typechecks).
 */

/** A tracer provider, as `@opentelemetry/api`'s `TracerProvider` (only `getTracer` is used). */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): unknown;
}

/** The part of an OpenTelemetry span the BFF uses. */
export interface TraceSpan {
  isRecording(): boolean;
  setAttribute(key: string, value: string | number | boolean): unknown;
  recordException(exception: Error | string): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** The resolved `tracing` option. */
export interface TracingSettings {
  enabled: boolean;
  recordUserId: boolean;
  tracerProvider?: TracerProviderLike | undefined;
}

/** Loads the API; a test injects a failing import to check the fallback. */
export type ImportOtelApi = () => Promise<unknown>;

const TRACER_NAME = '@latchkey/bff';
/** Kept in step with bff/package.json by a test. */
export const TRACER_VERSION = '0.1.0';
/** SpanStatusCode.ERROR of the API (a stable number in its 1.x line). */
const STATUS_ERROR = 2;

/** Attribute names (OpenTelemetry style: a `latchkey.` namespace; `error.type` and `user.id` from the semantic conventions). */
export const ATTR = Object.freeze({
  outcome: 'latchkey.outcome',
  sessionId: 'latchkey.session.id',
  sessionsEnded: 'latchkey.sessions.ended',
  guardCached: 'latchkey.guard.cached',
  guardFailOpen: 'latchkey.guard.fail_open',
  errorType: 'error.type',
  userId: 'user.id',
});

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** What a failure means for a span: a 4xx LatchkeyError is an outcome (status left unset), anything else an error. */
export function isFailure(error: unknown): boolean {
  return !(error instanceof LatchkeyError) || error.status >= 500;
}

/** The BFF's tracer and the API it came from; one per createBff, kept in the BFF context. */
export class Tracing {
  private constructor(
    private readonly api: typeof OtelApi,
    private readonly tracer: OtelApi.Tracer,
    /** Whether spans carry `user.id` (personal data: off unless the application opts in). */
    readonly recordUserId: boolean,
  ) {}

  /**
   * The tracing of one BFF, or undefined when it is off: `enabled: false`, or `@opentelemetry/api` is not installed.
   * Any other import failure (a broken install) is thrown: silence there would hide it.
   */
  static async load(settings: TracingSettings, importApi: ImportOtelApi = () => import('@opentelemetry/api')): Promise<Tracing | undefined> {
    if (!settings.enabled) return undefined;
    let api: typeof OtelApi;
    try {
      api = (await importApi()) as typeof OtelApi;
    } catch (error) {
      if (isModuleNotFound(error)) return undefined;
      throw error;
    }
    // The global API's tracer is a proxy: a provider the application registers after createBff is still used.
    const provider = settings.tracerProvider ?? api.trace;
    const tracer = provider.getTracer(TRACER_NAME, TRACER_VERSION) as OtelApi.Tracer;
    return new Tracing(api, tracer, settings.recordUserId);
  }

  /** A span, child of the active one, that the caller ends. */
  startSpan(name: string): TraceSpan {
    return this.tracer.startSpan(name);
  }

  /** Runs `fn` with `span` active, so spans started inside (store calls) are its children. */
  within<T>(span: TraceSpan, fn: () => T): T {
    const api = this.api;
    return api.context.with(api.trace.setSpan(api.context.active(), span as OtelApi.Span), fn);
  }

  /**
   * Runs `fn` inside a new active span and ends it when `fn` settles: a failure per `isFailure` is recorded as an
   * exception with status ERROR, a 4xx LatchkeyError only as the outcome (its code).
   */
  async run<T>(name: string, fn: (span: TraceSpan) => Promise<T>): Promise<T> {
    const span = this.startSpan(name);
    try {
      return await this.within(span, () => fn(span));
    } catch (error) {
      endFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /** Whether a span is active: store calls are traced only inside a traced operation, never the background loops. */
  hasActiveSpan(): boolean {
    return this.api.trace.getSpan(this.api.context.active()) !== undefined;
  }
}

/** Sets the outcome of a failed operation: the code of a 4xx LatchkeyError, or the exception and status ERROR. */
export function endFailed(span: TraceSpan, error: unknown): void {
  if (!span.isRecording()) return;
  if (!isFailure(error)) {
    span.setAttribute(ATTR.outcome, (error as LatchkeyError).code);
    return;
  }
  // The wire code the error handler will answer with: few values, as `error.type` should have.
  const code = error instanceof LatchkeyError ? error.code : error instanceof StoreUnavailableError ? 'temporarily_unavailable' : 'internal_error';
  span.setAttribute(ATTR.outcome, code);
  span.setAttribute(ATTR.errorType, code);
  // The underlying error of a wrapped one (LatchkeyError's `cause`) is what an operator needs. No message here is
  // built from credentials: LatchkeyError's are fixed texts, store errors name the backend's condition.
  const cause = error instanceof LatchkeyError && error.cause instanceof Error ? error.cause : error;
  span.recordException(cause instanceof Error ? cause : String(cause));
  span.setStatus({ code: STATUS_ERROR });
}

/** The device session an operation acted on: its public handle, and the user id when the application opted in. */
export function recordSession(tracing: Tracing, span: TraceSpan, session: { sid: string; userId: string }): void {
  if (!span.isRecording()) return;
  span.setAttribute(ATTR.sessionId, session.sid);
  if (tracing.recordUserId) span.setAttribute(ATTR.userId, session.userId);
}
