import { getBff } from '@/lib/bff';

// The BFF's routes (login, refresh, logout, logout-all, the device list) in one catch-all route handler.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

async function handle(request: Request): Promise<Response> {
  return (await getBff()).fetch(request);
}
export { handle as GET, handle as POST, handle as DELETE, handle as OPTIONS };
