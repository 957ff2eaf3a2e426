import { afterEach, expect, it } from 'vitest';
import { fetchMetrics, startDemoProcess, type DemoProcess } from '@latchkey/testkit';

let demo: DemoProcess | undefined;
afterEach(async () => {
  await demo?.stop();
  demo = undefined;
});

/** The built demo as `npm start` runs it: /metrics is closed, and the start-up lines say how to read it. */
it('without LATCHKEY_METRICS_TOKEN the demo makes a token, prints how to read /metrics with it, and refuses anyone without it', async () => {
  // An empty variable is an unset one (the harness's default token is overridden).
  demo = await startDemoProcess({ env: { LATCHKEY_METRICS_TOKEN: '' } });
  const line = /^ {2}metrics: curl -H 'Authorization: Bearer ([A-Za-z0-9_-]+)' (\S+)$/m.exec(demo.output());
  expect(line, demo.output()).not.toBeNull();
  expect(line![2]).toBe(`${demo.url}/metrics`);
  expect(demo.output()).toContain('LATCHKEY_METRICS_TOKEN is not set: this token was made for this run');
  expect((await fetch(`${demo.url}/metrics`)).status).toBe(401);
  expect(await fetchMetrics(demo.url, { token: line![1]! })).toContain('latchkey_logins_total');
});

it('with LATCHKEY_METRICS_TOKEN it prints the command without the token; the open mode is announced as a warning', async () => {
  demo = await startDemoProcess();
  expect(demo.output()).toContain(`metrics: curl -H "Authorization: Bearer $LATCHKEY_METRICS_TOKEN" ${demo.url}/metrics`);
  expect(demo.output()).not.toContain('latchkey-test-metrics-token');
  await demo.stop();

  demo = await startDemoProcess({ env: { LATCHKEY_METRICS_TOKEN: '', LATCHKEY_DANGEROUSLY_OPEN_METRICS: 'true' } });
  expect(demo.output()).toContain(`WARNING: LATCHKEY_DANGEROUSLY_OPEN_METRICS is on: ${demo.url}/metrics is open to anyone`);
  expect((await fetch(`${demo.url}/metrics`)).status).toBe(200);
});
