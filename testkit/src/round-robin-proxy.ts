import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A small HTTP load balancer for tests: each request goes to the next upstream in turn; when the connection to that
 * upstream fails (refused, reset, closed before an answer), the same request is sent once to the other upstream, as a
 * load balancer's health failover would. Method, path, headers (Cookie included) and body are forwarded unchanged, and
 * the answer (status, headers including every Set-Cookie, body) comes back unchanged.
 */
export interface RoundRobinProxy {
  url: string;
  port: number;
  /** Requests answered by each upstream (by its base URL). */
  readonly served: Map<string, number>;
  /** Requests sent again to the other upstream after a connection error. */
  readonly failovers: number;
  /** Requests that failed on both upstreams (answered 502). */
  readonly failures: number;
  /** The connection errors that caused a failover, by code (ECONNREFUSED: upstream gone; ECONNRESET: died mid-request). */
  readonly failoverCauses: Map<string, number>;
  close(): Promise<void>;
}

/** Hop-by-hop headers: they describe one connection, so a proxy never forwards them. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
  return out;
}

export interface RoundRobinProxyOptions {
  /** Called once a request has been handed to an upstream (headers and body written), before its answer. */
  onForwarded?: (upstream: string, method: string, path: string) => void;
}

export async function startRoundRobinProxy(upstreams: readonly string[], options: RoundRobinProxyOptions = {}): Promise<RoundRobinProxy> {
  if (upstreams.length < 2) throw new Error('a round-robin proxy needs at least two upstreams');
  // No keep-alive towards the upstreams: a pooled socket that went stale must not be mistaken for a dead upstream.
  const agent = new Agent({ keepAlive: false });
  const served = new Map(upstreams.map((u) => [u, 0]));
  const sockets = new Set<Socket>();
  let next = 0;
  let failovers = 0;
  let failures = 0;
  const failoverCauses = new Map<string, number>();

  const attempt = (upstream: string, req: IncomingMessage, body: Buffer): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const target = new URL(req.url ?? '/', upstream);
      const headers = forwardable(req.headers);
      headers.host = target.host;
      headers['content-length'] = String(body.length);
      const forwardedFor = req.headers['x-forwarded-for'];
      headers['x-forwarded-for'] = [forwardedFor, req.socket.remoteAddress].filter(Boolean).join(', ');
      if (body.length === 0 && req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') delete headers['content-length'];
      const upstreamReq = request(target, { method: req.method, headers, agent }, resolve);
      upstreamReq.on('error', reject);
      upstreamReq.end(body, () => options.onForwarded?.(upstream, req.method ?? 'GET', target.pathname));
    });

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const first = next++ % upstreams.length;
      const second = (first + 1) % upstreams.length;
      void (async () => {
        let answer: IncomingMessage;
        let from = upstreams[first]!;
        try {
          answer = await attempt(from, req, body);
        } catch (error) {
          failovers++;
          const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
          failoverCauses.set(code, (failoverCauses.get(code) ?? 0) + 1);
          from = upstreams[second]!;
          try {
            answer = await attempt(from, req, body);
          } catch (error) {
            failures++;
            res.writeHead(502, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ error: 'bad_gateway', message: (error as Error).message }));
            return;
          }
        }
        served.set(from, (served.get(from) ?? 0) + 1);
        res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
        answer.pipe(res);
        // An upstream that dies mid-body: end our answer too, so the client sees an error rather than a hang.
        answer.on('error', () => res.destroy());
        answer.on('aborted', () => res.destroy());
      })();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    served,
    get failovers() {
      return failovers;
    },
    get failures() {
      return failures;
    },
    failoverCauses,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}
