import type { Logger } from 'pino';
import type { AccessTokenClaims } from '@latchkey/shared';
import { systemClock, type Clock } from '../clock.js';
import type { RevocationEvent } from '../store/revocation-feed.js';
import type { SessionStore } from '../store/types.js';

/** Longest pause between two failed reads of the log. */
const MAX_RETRY_DELAY_MS = 100;

export interface RevocationViewOptions {
  store: SessionStore;
  logger: Logger;
  /** How long one read of the log waits for news; also the heartbeat that proves the store still answers. */
  pollBlockMs?: number;
  batchSize?: number;
  /** Decides when entries expire; default the system clock. Staleness is measured in real elapsed time regardless. */
  clock?: Clock;
  /** Called with the new version when the key ring changes. */
  onKeyRingChange?: (version: string) => void;
  /** Called with each event's propagation lag (ms from the store's write to this process applying it). */
  onEventApplied?: (lagMs: number) => void;
  onReconnect?: () => void;
  /** Called with the number of events that reached this process without their wake-up signal (lost bells). */
  onUnannounced?: (events: number) => void;
  onReadError?: (error: unknown) => void;
  /** Called after each successful read of the log (about every `pollBlockMs` when nothing happens). */
  onRead?: () => void;
}

/**
 * This process's copy of every live revocation (jti deny list, revoked sessions, per-user, per-tenant and global
 * `revoked_after`),
 * so the guard's check costs no network round trip. Built by replaying the store's revocation log, then kept
 * current by following it: a blocking read returns as soon as another instance writes. After a lost
 * connection it resumes from its last position, so no revocation is missed. Entries are dropped when they
 * expire: memory is bounded by the tokens alive.
 */
export class RevocationView {
  private readonly jtis = new Map<string, number>();
  private readonly sids = new Map<string, number>();
  private readonly users = new Map<string, { revokedAfter: number; expiresAt: number }>();
  /** Per-tenant `revoked_after` (admin.revokeTenant), checked against the token's `tenant` claim. */
  private readonly tenants = new Map<string, { revokedAfter: number; expiresAt: number }>();
  /** The global `revoked_after` (admin.revokeAllSessions), checked against every token. */
  private global: { revokedAfter: number; expiresAt: number } | undefined;
  private position: string | null = null;
  private complete = false;
  /** performance.now() of the store's last answer: staleness is a liveness measure, it must not jump with a clock. */
  private syncedAt = 0;
  private lastSweep = 0;
  private failing = false;
  private running = false;
  private readonly clock: Clock;
  private readonly blockMs: number;
  private readonly batchSize: number;
  private firstSync: Promise<void> | null = null;
  /** Waiting for the next successful read (see nextSync). */
  private syncWaiters: Array<() => void> = [];
  /** The newest key-ring version seen while replaying, announced once the replay is done. */
  private replayedKeyRing: string | null = null;
  private readonly listeners = new Set<(event: RevocationEvent) => void>();

  constructor(private readonly options: RevocationViewOptions) {
    this.clock = options.clock ?? systemClock;
    this.blockMs = options.pollBlockMs ?? 500;
    this.batchSize = options.batchSize ?? 1000;
  }

  /** Starts following the log; resolves once the view is complete (the whole log replayed). */
  start(): Promise<void> {
    if (!this.running) {
      this.running = true;
      this.firstSync = new Promise((resolve) => void this.follow(resolve));
    }
    return this.firstSync!;
  }

  stop(): void {
    this.running = false;
  }

  /**
   * How old the view may be: ms since the store last answered (0 while it answers). Infinity until the first
   * full replay, because until then the view may be missing revocations the store would enforce.
   */
  stalenessMs(): number {
    if (!this.complete) return Number.POSITIVE_INFINITY;
    return Math.max(0, performance.now() - this.syncedAt - this.blockMs);
  }

  /**
   * Resolves after the next successful read of the log, or after `timeoutMs`. A view that merely looks stale
   * because the event loop was busy (the answer is already in the socket) catches up here, instead of a request
   * failing closed while the store is fine.
   */
  nextSync(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.syncWaiters;
      waiters.push(done);
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
    });
  }

  /**
   * The revocation checks, from memory. `revoked_after` (user, tenant) compares whole seconds (iat's resolution): a
   * token issued earlier in the revocation's own second passes it, but its session was ended, so its sid is revoked.
   */
  isRevoked(claims: AccessTokenClaims): boolean {
    const now = this.clock.now();
    const jti = this.jtis.get(claims.jti);
    if (jti !== undefined && jti > now) return true;
    const sid = this.sids.get(claims.sid);
    if (sid !== undefined && sid > now) return true;
    if (issuedBefore(this.global, claims.iat, now)) return true;
    if (issuedBefore(this.users.get(claims.sub), claims.iat, now)) return true;
    return typeof claims.tenant === 'string' && issuedBefore(this.tenants.get(claims.tenant), claims.iat, now);
  }

  get size(): number {
    return this.jtis.size + this.sids.size + this.users.size + this.tenants.size + (this.global ? 1 : 0);
  }

  private async follow(onComplete: () => void): Promise<void> {
    let backoffMs = 25;
    while (this.running) {
      try {
        // Replay without waiting until caught up, then block for news. After a failed read, read without waiting:
        // the store's first answer makes the view current again (a blocking read would answer only when news
        // arrived or its wait ran out, leaving the guard failing closed for that long after the store is back).
        const block = this.complete && !this.failing ? this.blockMs : 0;
        const batch = await this.options.store.readRevocations(this.position, { blockMs: block, count: this.batchSize });
        if (!this.running) return;
        for (const event of batch.events) this.apply(event);
        if (batch.unannounced) this.options.onUnannounced?.(batch.unannounced);
        this.position = batch.position;
        this.syncedAt = performance.now();
        for (const wake of this.syncWaiters.splice(0)) wake();
        this.options.onRead?.();
        if (this.failing) {
          this.failing = false;
          this.options.logger.info({ event: 'revocation_feed_resumed' }, 'revocation feed resumed');
          this.options.onReconnect?.();
        }
        backoffMs = 25;
        if (!this.complete && batch.events.length < this.batchSize) {
          this.complete = true;
          if (this.replayedKeyRing !== null) this.options.onKeyRingChange?.(this.replayedKeyRing);
          onComplete();
        }
        this.sweep();
      } catch (error) {
        if (!this.running) return;
        if (!this.failing) {
          this.failing = true;
          this.options.logger.warn({ event: 'revocation_feed_lost', err: { message: (error as Error).message } }, 'revocation feed lost');
        }
        this.options.onReadError?.(error);
        await new Promise((r) => setTimeout(r, backoffMs).unref());
        // Capped low: a hung store already spaces attempts by its command deadline, and a retry that sleeps past the
        // store's return is time the guard keeps failing closed for nothing.
        backoffMs = Math.min(backoffMs * 2, MAX_RETRY_DELAY_MS);
      }
    }
  }

  /**
   * Calls `listener` with every event this view applies once it is complete (live news, and what it catches up on
   * after a lost connection; never the start-up replay). Event streams fan these out: one follower per process.
   */
  onEvent(listener: (event: RevocationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Whether this view already knows the session ended: its sid is revoked, or its user's (or its tenant's, or the
   * global) `revoked_after` is past its start.
   */
  isSessionRevoked(sid: string, userId: string, createdAt: number, tenant?: string): boolean {
    const now = this.clock.now();
    const sidExpiry = this.sids.get(sid);
    if (sidExpiry !== undefined && sidExpiry > now) return true;
    if (this.global !== undefined && this.global.expiresAt > now && createdAt < this.global.revokedAfter) return true;
    const user = this.users.get(userId);
    if (user !== undefined && user.expiresAt > now && createdAt < user.revokedAfter) return true;
    const marker = tenant === undefined ? undefined : this.tenants.get(tenant);
    return marker !== undefined && marker.expiresAt > now && createdAt < marker.revokedAfter;
  }

  private apply(event: RevocationEvent): void {
    const now = this.clock.now();
    if (this.complete) {
      for (const listener of this.listeners) {
        try {
          listener(event);
        } catch (error) {
          this.options.logger.error({ event: 'revocation_listener_failed', err: { message: (error as Error).message } }, 'revocation listener failed');
        }
      }
    }
    // A session start is news for event streams, not a revocation.
    if (event.kind === 'session') return;
    if (this.complete) this.options.onEventApplied?.(Math.max(0, now - event.at));
    if (event.kind === 'keyring') {
      if (this.complete) this.options.onKeyRingChange?.(event.id);
      else this.replayedKeyRing = event.id;
      return;
    }
    if (event.expiresAt <= now) return;
    if (event.kind === 'jti') this.jtis.set(event.id, event.expiresAt);
    else if (event.kind === 'sid') this.sids.set(event.id, event.expiresAt);
    else if (event.kind === 'all') {
      if (!this.global || this.global.expiresAt <= now || this.global.revokedAfter <= event.revokedAfter) {
        this.global = { revokedAfter: event.revokedAfter, expiresAt: event.expiresAt };
      }
    } else {
      const markers = event.kind === 'user' ? this.users : this.tenants;
      const current = markers.get(event.id);
      if (!current || current.revokedAfter <= event.revokedAfter) {
        markers.set(event.id, { revokedAfter: event.revokedAfter, expiresAt: event.expiresAt });
      }
    }
  }

  /** Drops expired entries, at most once a second. */
  private sweep(): void {
    const now = this.clock.now();
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [id, expiresAt] of this.jtis) if (expiresAt <= now) this.jtis.delete(id);
    for (const [id, expiresAt] of this.sids) if (expiresAt <= now) this.sids.delete(id);
    for (const [id, user] of this.users) if (user.expiresAt <= now) this.users.delete(id);
    for (const [id, tenant] of this.tenants) if (tenant.expiresAt <= now) this.tenants.delete(id);
    if (this.global && this.global.expiresAt <= now) this.global = undefined;
  }
}

/** A `revoked_after` marker, live, set after the token's (whole-second) `iat`. */
function issuedBefore(marker: { revokedAfter: number; expiresAt: number } | undefined, iat: number, now: number): boolean {
  return marker !== undefined && marker.expiresAt > now && iat < Math.floor(marker.revokedAfter / 1000);
}
