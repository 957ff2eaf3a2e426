import { createServer } from 'node:net';

/**
 * A port nobody listens on right now (the OS picks it). The tiny window before the caller binds it is acceptable
 * for tests. Shared by every test suite that starts servers (bff, demo, e2e); the bench has its own copy because it
 * is a compiled package that cannot import test code.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
