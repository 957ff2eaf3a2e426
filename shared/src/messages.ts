/** Request and response bodies of the BFF routes (SPEC section 4). */

export interface LoginRequest {
  username: string;
  password: string;
  deviceName?: string;
}

export interface PublicUser {
  id: string;
  name: string;
}

export interface PublicSession {
  id: string;
  deviceName: string;
  createdAt: number;
}

export interface TokenResponse {
  accessToken: string;
  tokenType: 'Bearer';
  /** Epoch milliseconds. */
  expiresAt: number;
  user: PublicUser;
  session: PublicSession;
}

export interface SessionListEntry {
  id: string;
  deviceName: string;
  userAgent: string;
  createdAt: number;
  lastActiveAt: number;
  current: boolean;
}

export interface SessionListResponse {
  sessions: SessionListEntry[];
}

export interface JwksResponse {
  keys: Array<Record<string, unknown>>;
}
