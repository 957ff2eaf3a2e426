/** What every Redis launcher of the kit checks: that redis-server exists, and whether a port answers PING. */
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';

const INSTALL_HINT = 'redis-server is not on PATH; install it with `apt-get install -y redis-server`';

export function assertRedisServerInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (probe.error) throw new Error(INSTALL_HINT, { cause: probe.error });
}

/**
 * One raw PING over a fresh socket: true only for +PONG. A server still loading its append-only file answers
 * -LOADING, which is "not ready". Raw rather than ioredis: nothing to retry or reconnect, nothing to clean up.
 */
export function pingRedis(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}
