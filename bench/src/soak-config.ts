import { fileURLToPath } from 'node:url';

/** The soak's settings (environment variables, see soak.ts) and small helpers every part of it uses. */

// The soak spreads its processes over both cores as the scheduler likes; pinning is for the side-by-side bench.
process.env.BENCH_PIN ??= '0';

export const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
export const DEVICES = Number(process.env.SOAK_DEVICES ?? 48);
export const ACCESS_TTL = Number(process.env.SOAK_ACCESS_TTL ?? 10);
export const WINDOW_MS = Number(process.env.SOAK_WINDOW_MS ?? 50);
export const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
export const LOGOUT_ALL_SECONDS = Number(process.env.SOAK_LOGOUT_ALL_SECONDS ?? 30);
/** The demo's guard tolerates 5 s of clock skew; revocation markers live access TTL + skew + 1 s. */
export const SKEW_SECONDS = 5;
export const MARKER_TTL_MS = (ACCESS_TTL + SKEW_SECONDS + 1) * 1000;
/** After the load: the longest token lifetime (a marker's life) plus a margin, then the final sample. */
export const WAIT_AFTER_MS = MARKER_TTL_MS + 4000;
export const TIMEOUT_MS = 5000;
/** Refresh when the token has less than this left (the client SDK refreshes ahead of expiry too). */
export const REFRESH_AHEAD_MS = 2500;
/** A device's session lasts this long before it logs out and signs in again. */
export const SESSION_LIFE_MS: [number, number] = [15_000, 75_000];
/** Pause between a device's API calls: ~2.6 requests/s per device. */
export const THINK_MS: [number, number] = [150, 600];
/** Probes of revoked tokens, ms after the revoking call returned: on the other process at each, on the same one at some. */
export const PROBE_OFFSETS_MS = [0, 20, 60, 150, 400, 1000, 2500, 5000, 8000];
export const PROBE_SAME_PROCESS_MS = new Set([60, 1000]);

export const DEMO = fileURLToPath(new URL('../../examples/demo/dist/server.js', import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
/** SOAK_CLUSTER=1: the two demo processes share a 3-master Redis Cluster instead of one Redis. */
export const CLUSTER = process.env.SOAK_CLUSTER === '1';
export const RESULTS = fileURLToPath(new URL(CLUSTER ? '../results/soak-cluster.json' : '../results/soak.json', import.meta.url));
export const SECRET = 'soak-secret-0123456789-abcdefghijklmnopqrstuv';
export const ISSUER = 'http://soak.local';
export const USERS = [
  { username: 'alice', password: 'wonderland' },
  { username: 'bob', password: 'builder' },
] as const;

export type User = (typeof USERS)[number];

export const rand = (min: number, max: number) => min + Math.random() * (max - min);
export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
export const mib = (bytes: number | null | undefined) => (bytes === null || bytes === undefined || !Number.isFinite(bytes) ? null : round(bytes / 2 ** 20, 1));

/** What login and refresh answer. */
export interface TokenBody {
  accessToken: string;
  expiresAt: number;
  session: { id: string };
}
