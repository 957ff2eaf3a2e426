import { cache } from 'react';
import { headers } from 'next/headers';
import { getBff } from '@/lib/bff';

/** The request's device session, read once per render (React's cache): read-only, it never rotates the cookie. */
export const currentSession = cache(async () => (await getBff()).getSession(await headers()));
