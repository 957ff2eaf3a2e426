import { getBff } from '@/lib/bff';

// A protected API: a Latchkey access token (from the browser, or from the server's getAccessToken) in Authorization.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request: Request): Promise<Response> {
  const bff = await getBff();
  const result = await bff.guard.authorize(request.headers.get('authorization') ?? undefined);
  if (!result.ok) return Response.json({ error: result.error.code, message: result.error.message }, { status: result.error.status });
  return Response.json({ sub: result.claims.sub, sid: result.claims.sid }, { headers: { 'Cache-Control': 'no-store' } });
}
