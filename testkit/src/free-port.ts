import { createServer } from 'node:net';

/**
 * A port nobody listens on right now (the OS picks it). The tiny window before the caller binds it is acceptable
 * for tests; a caller that needs several at once takes freePorts(), since the OS may hand the same port out twice.
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

/** `count` distinct free ports (freePort() can hand out a port it handed out a moment ago). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
