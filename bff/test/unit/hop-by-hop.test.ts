import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../../src/http/hop-by-hop.js';

describe('hop-by-hop headers', () => {
  it.each([undefined, 'keep-alive', 'close', 'Keep-Alive', 'keep-alive, X-Drop-Me', 'close,x-drop-me'])(
    'Connection: %s: hop-by-hop headers, the browser’s credentials and forwarding headers never go upstream; what Connection names neither',
    (connection) => {
      const headers = {
        host: 'app.example.test',
        ...(connection === undefined ? {} : { connection }),
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        cookie: 'latchkey=secret',
        authorization: 'Bearer forged',
        'x-csrf': '1',
        'x-forwarded-for': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        'x-drop-me': 'named by Connection',
        accept: 'application/json',
        'x-multi': ['a', 'b'],
      };
      const named = /x-drop-me/i.test(connection ?? '');
      expect(upstreamRequestHeaders(headers)).toEqual({
        accept: 'application/json',
        'x-multi': ['a', 'b'],
        ...(named ? {} : { 'x-drop-me': 'named by Connection' }),
      });
    },
  );

  it('answers: Set-Cookie and hop-by-hop headers never reach the browser; names are lower-cased', () => {
    expect(
      downstreamResponseHeaders({
        Connection: 'keep-alive',
        'Keep-Alive': 'timeout=5',
        'Content-Type': 'application/json',
        'set-cookie': ['a=1'],
        'Set-Cookie2': 'b=2',
        etag: 'W/"1"',
        absent: undefined,
      }),
    ).toEqual({ 'content-type': 'application/json', etag: 'W/"1"' });
  });
});
