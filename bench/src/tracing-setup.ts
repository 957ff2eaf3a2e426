/**
 * What an application's OpenTelemetry setup does before it starts (NodeSDK does the same): a global tracer provider
 * and AsyncLocalStorage context. Spans are recorded and batched as in production, then dropped by an exporter that
 * sends nothing, so the benchmark measures making spans, not shipping them.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';

const discard: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
};

export function registerDiscardingTracerProvider(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }));
}
