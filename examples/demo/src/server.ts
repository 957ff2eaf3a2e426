import type { Server } from 'node:http';
import { DEMO_ACCOUNTS } from './accounts.js';
import { createDemoApp } from './app.js';
import { readDemoConfig, type DemoConfig } from './config.js';

/** How long requests in flight get after SIGTERM; well within Kubernetes' default 30 s termination grace period. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/** `node examples/demo/dist/server.js`: starts the demo with the environment of SPEC section 3. */
async function main(): Promise<void> {
  const config = readDemoConfig(process.env);
  const demo = await createDemoApp(config);
  const server: Server = demo.app.listen(config.port, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const lines = [
      `Latchkey demo on http://localhost:${port}`,
      `  store: ${describeStore(config)}`,
      `  accounts: ${DEMO_ACCOUNTS.map((a) => `${a.username} / ${a.password}`).join(', ')}`,
    ];
    if (config.demoIdp) lines.push(`  identity provider: the bundled development IdP at http://localhost:${port}/idp (same accounts)`);
    else if (config.oidc) lines.push(`  identity provider: ${config.oidc.issuer}`);
    if (config.proxy)
      lines.push('  proxy mode: /api/me, /api/admin and /api/ticks (SSE, WebSocket) go through bff.proxy to a separate upstream API; the page holds no token');
    if (config.introspectionClients.length > 0) {
      lines.push(`  introspection and revocation (POST /auth/introspect, /auth/revoke) for: ${config.introspectionClients.map((c) => c.id).join(', ')}`);
    }
    lines.push(...describeMetrics(config, port));
    if (config.secretIsEphemeral) lines.push('  LATCHKEY_SECRET is not set: using an ephemeral secret (sessions end when the server stops).');
    process.stdout.write(`${lines.join('\n')}\n`);
  });
  // WebSockets through bff.proxy (proxy mode: /api/ticks).
  server.on('upgrade', demo.upgrade);
  // Graceful shutdown (docs/operations.md): stop accepting connections, end event streams with a reconnect hint, let
  // the requests in flight finish, then close the store. A second Ctrl-C ends the process at once.
  const stop = (signal: NodeJS.Signals) => {
    process.stdout.write(`${signal}: finishing the requests in flight (up to ${SHUTDOWN_TIMEOUT_MS / 1000} s), then exiting\n`);
    demo.close({ server, timeoutMs: SHUTDOWN_TIMEOUT_MS }).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Latchkey demo: shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** How to read /metrics; the token itself only when this run made it (the operator knows one they set). */
function describeMetrics(config: DemoConfig, port: number): string[] {
  const url = `http://localhost:${port}/metrics`;
  if (config.metricsToken === null) {
    return [
      `  WARNING: LATCHKEY_DANGEROUSLY_OPEN_METRICS is on: ${url} is open to anyone who reaches this port (Node version, login, rate-limit and admin counters).`,
    ];
  }
  if (!config.metricsTokenIsGenerated) return [`  metrics: curl -H "Authorization: Bearer $LATCHKEY_METRICS_TOKEN" ${url}`];
  return [
    `  metrics: curl -H 'Authorization: Bearer ${config.metricsToken}' ${url}`,
    '    (LATCHKEY_METRICS_TOKEN is not set: this token was made for this run; set it to keep one across restarts.)',
  ];
}

function describeStore(config: DemoConfig): string {
  if (config.redisClusterNodes) return `Redis Cluster (seeds ${config.redisClusterNodes.map((url) => new URL(url).host).join(', ')})`;
  if (config.redisUrl) return `Redis (${new URL(config.redisUrl).host})`;
  return 'in-memory (set REDIS_URL to use Redis)';
}

main().catch((error: unknown) => {
  process.stderr.write(`Latchkey demo failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
