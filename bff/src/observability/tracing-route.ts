import type { Request, Response } from 'express';
import type { BffContext } from '../context.js';
import { ATTR, recordSession, type TraceSpan, type Tracing } from './tracing.js';

/** What a traced route records on its span; every call is a no-op when tracing is off or the span is not recording. */
export interface RouteTrace {
  /** `latchkey.outcome` of an answer that is not an error (errors are recorded from what the handler throws). */
  outcome(outcome: string): void;
  /** The device session acted on: `latchkey.session.id`, and `user.id` when the application opted in. */
  session(session: { sid: string; userId: string }): void;
  attribute(key: string, value: string | number | boolean): void;
}

const OFF: RouteTrace = Object.freeze({ outcome() {}, session() {}, attribute() {} });

class SpanTrace implements RouteTrace {
  constructor(
    private readonly tracing: Tracing,
    private readonly span: TraceSpan,
  ) {}
  outcome(outcome: string): void {
    if (this.span.isRecording()) this.span.setAttribute(ATTR.outcome, outcome);
  }
  session(session: { sid: string; userId: string }): void {
    recordSession(this.tracing, this.span, session);
  }
  attribute(key: string, value: string | number | boolean): void {
    if (this.span.isRecording()) this.span.setAttribute(key, value);
  }
}

/**
 * A route handler inside a span named `name` (`latchkey.login`, ...), active while it runs so the store calls it
 * makes are its children. For Express handlers (req, res) and the framework-neutral routes (request, reply) alike.
 * Without tracing the handler runs as it is, with a trace that records nothing.
 */
export function tracedRoute<Req = Request, Res = Response, Out = void>(
  ctx: BffContext,
  name: string,
  handler: (req: Req, res: Res, trace: RouteTrace) => Promise<Out>,
): (req: Req, res: Res) => Promise<Out> {
  const tracing = ctx.tracing;
  if (!tracing) return (req, res) => handler(req, res, OFF);
  return (req, res) => tracing.run(name, (span) => handler(req, res, span.isRecording() ? new SpanTrace(tracing, span) : OFF));
}
