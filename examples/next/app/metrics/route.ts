import { timingSafeEqual } from 'node:crypto';
import { getBff } from '@/lib/bff';

// Prometheus metrics of the BFF, behind a bearer token (LATCHKEY_METRICS_TOKEN); closed when none is set.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request: Request): Promise<Response> {
  const expected = process.env.LATCHKEY_METRICS_TOKEN;
  const given = Buffer.from(request.headers.get('authorization') ?? '');
  const wanted = Buffer.from(`Bearer ${expected ?? ''}`);
  if (!expected || given.length !== wanted.length || !timingSafeEqual(given, wanted)) return new Response('unauthorized\n', { status: 401 });
  const { registry } = (await getBff()).metrics;
  return new Response(await registry.metrics(), { headers: { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' } });
}
