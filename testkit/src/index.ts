/**
 * @latchkey/testkit: what the bff tests, the demo tests, the browser suite and the benchmarks share. One job per
 * file; see README.md.
 */
export { freePort, freePorts } from './free-port.js';
export { sleep } from './sleep.js';
export { spawnTracked, stopChild, hasExited, waitReady, type TrackedChild, type SpawnOptions, type WaitReadyOptions } from './child-process.js';
export { assertRedisServerInstalled, pingRedis } from './redis-probe.js';
export { startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server.js';
export { startRedisCluster, type RedisCluster, type RedisClusterNode, type RedisClusterOptions } from './redis-cluster.js';
export { nodeOwningKey } from './cluster-slots.js';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
export { startRoundRobinProxy, type RoundRobinProxy, type RoundRobinProxyOptions } from './round-robin-proxy.js';
export { startNodeProcess, type NodeProcess, type NodeProcessOptions } from './node-process.js';
export { startDemoProcess, DEMO_SERVER, DEMO_PAGE_INDEX, REPO_ROOT, type DemoProcess, type DemoProcessOptions } from './demo-process.js';
export { CookieJar, isSameSite, siteOf, type CookieRequestContext, type SameSite } from './cookie-jar.js';
export { HttpDevice, SESSION_COOKIE, type TokenBody, type HttpDeviceOptions, type DeviceRequestInit, type CallOptions } from './http-device.js';
export { startLogin, authorizeAtIdp, returnFromIdp } from './oidc-sign-in.js';
export {
  parseMetrics,
  metricSeries,
  metricSum,
  metricByLabel,
  metricTotal,
  fetchMetrics,
  refreshCounts,
  countDelta,
  TEST_METRICS_TOKEN,
  type MetricSample,
} from './metrics.js';
