import { Transform, type TransformCallback } from 'node:stream';
import type { Duplex } from 'node:stream';
import { endReasonCode } from '../session/end.js';
import type { RevocationEvent } from '../store/revocation-feed.js';
import type { DeviceSessionRecord } from '../store/types.js';

/**
 * The close code a proxied WebSocket gets when its device session ends while it is open (4000-4999: private use,
 * RFC 6455 §7.4.2); the reason is the session-ending code of the refresh route (`session_revoked`, `reuse_detected`,
 * `no_session`, `session_expired`). 4401 mirrors the HTTP 401 a proxied call would get.
 */
export const SESSION_ENDED_CLOSE_CODE = 4401;
/** What a proxied WebSocket gets when the BFF shuts down (RFC 6455 "going away"): the client reconnects elsewhere. */
export const GOING_AWAY_CLOSE_CODE = 1001;

/** A server-to-client close frame (unmasked, RFC 6455 §5.5.1): the code, then a short UTF-8 reason. */
export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason.slice(0, 120), 'utf8');
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
}

/**
 * The upstream-to-browser byte stream of a proxied WebSocket, passed through untouched, with track kept of where
 * each frame ends (headers only: extensions such as permessage-deflate change payloads, never the framing). That is
 * what lets the BFF close the socket itself with a code the page sees: its close frame goes in between two frames,
 * never into the middle of one (a control frame may sit between the fragments of a message, RFC 6455 §5.4).
 */
export class FrameBoundaries extends Transform {
  /** Payload bytes of the current frame still to come; 0 between frames. */
  private remaining = 0;
  /** The start of a frame header that was split across chunks. */
  private header: Buffer = Buffer.alloc(0);
  private pendingClose: Buffer | null = null;
  private done = false;

  /** Sends `frame` at the next frame boundary (now, when between frames), then ends the stream. */
  closeWith(frame: Buffer): void {
    if (this.done || this.pendingClose) return;
    this.pendingClose = frame;
    if (this.remaining === 0 && this.header.length === 0) this.finishClose();
  }

  private finishClose(): void {
    this.done = true;
    this.push(this.pendingClose);
    this.push(null);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.done) return callback();
    let data = this.header.length > 0 ? Buffer.concat([this.header, chunk]) : chunk;
    this.header = Buffer.alloc(0);
    let offset = 0;
    while (offset < data.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, data.length - offset);
        this.remaining -= take;
        offset += take;
        continue;
      }
      if (this.pendingClose) break;
      const size = headerSize(data, offset);
      if (size === null || offset + size.header > data.length) {
        // A header split across chunks: kept until the rest arrives (at most 14 bytes).
        this.header = Buffer.from(data.subarray(offset));
        data = data.subarray(0, offset);
        break;
      }
      offset += size.header;
      this.remaining = size.payload;
    }
    if (this.pendingClose && this.remaining === 0) {
      // Whatever came after the last whole frame is dropped: the page gets the close frame next.
      this.push(data.subarray(0, offset));
      this.header = Buffer.alloc(0);
      this.finishClose();
      return callback();
    }
    callback(null, data);
  }
}

/** A frame header's length and its payload's, from its first bytes; null until enough bytes are there to tell. */
function headerSize(data: Buffer, offset: number): { header: number; payload: number } | null {
  if (data.length - offset < 2) return null;
  const second = data[offset + 1]!;
  const masked = (second & 0x80) !== 0 ? 4 : 0;
  const short = second & 0x7f;
  if (short < 126) return { header: 2 + masked, payload: short };
  const extended = short === 126 ? 2 : 8;
  if (data.length - offset < 2 + extended) return null;
  const payload = short === 126 ? data.readUInt16BE(offset + 2) : Number(data.readBigUInt64BE(offset + 2));
  return { header: 2 + extended + masked, payload };
}

interface OpenSocket {
  session: DeviceSessionRecord;
  /** Closes the browser's socket with this code and reason, and drops the upstream's. */
  close(code: number, reason: string): void;
}

/**
 * Every WebSocket open through `bff.proxy` in this process, by device session, so that a session that ends while its
 * socket is open closes the socket: each event of the revocation log (logout, logout-all, a device revoke, theft, a
 * user's, tenant's or global `revoked_after`) is checked against the open sockets through the local revocation view,
 * on every instance; and a socket ends at its session's absolute timeout at the latest. One per BFF.
 */
export class ProxySockets {
  private readonly open = new Set<OpenSocket>();

  constructor(private readonly isRevoked: (session: DeviceSessionRecord) => boolean) {}

  get size(): number {
    return this.open.size;
  }

  /** Registers a socket; the returned function unregisters it (on close). */
  add(socket: OpenSocket): () => void {
    this.open.add(socket);
    return () => void this.open.delete(socket);
  }

  onRevocationEvent(event: RevocationEvent): void {
    if (event.kind === 'jti' || event.kind === 'keyring' || event.kind === 'session' || this.open.size === 0) return;
    for (const socket of [...this.open]) {
      const { session } = socket;
      if (event.kind === 'sid' && event.id === session.sid) {
        // What the reason means for the page: the refresh route's session-ending code.
        socket.close(SESSION_ENDED_CLOSE_CODE, event.reason === undefined ? 'session_revoked' : endReasonCode(event.reason));
      } else if (event.kind !== 'sid' && this.isRevoked(session)) {
        socket.close(SESSION_ENDED_CLOSE_CODE, 'session_revoked');
      }
    }
  }

  /** Shutdown: every socket gets 1001 (going away), so pages reconnect to another instance. */
  closeAll(): void {
    for (const socket of [...this.open]) socket.close(GOING_AWAY_CLOSE_CODE, 'server_shutdown');
  }
}

/** Destroys a socket once it has flushed what was written to it, or after `ms` at the latest. */
export function endSoon(socket: Duplex, ms = 1000): void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end();
}
