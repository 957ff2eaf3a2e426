import type { SessionListResponse } from '@latchkey/shared';
import type { DeviceSessionRecord } from '../store/types.js';

/** A device session as session lists show it (GET /sessions, the admin API): public handles only, never its key. */
export function sessionListEntry(session: DeviceSessionRecord, currentSid: string | undefined): SessionListResponse['sessions'][number] {
  return {
    id: session.sid,
    deviceName: session.deviceName,
    userAgent: session.userAgent,
    createdAt: session.createdAt,
    // The last real use (not the last rotation: a timer's refresh is no activity).
    lastActiveAt: session.lastActivityAt,
    current: session.sid === currentSid,
  };
}
