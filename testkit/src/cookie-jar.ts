/**
 * Cookies by host, as a browser keeps them (cookies ignore ports): Set-Cookie lines in, a Cookie header out. Enough
 * for the BFF's and the IdP's cookies (no Domain, no Path scoping beyond "/"); an empty value, Max-Age=0 or an
 * Expires in the past deletes the cookie. Hand-written: a full RFC 6265 jar (tough-cookie) would also enforce Secure
 * and __Host- rules, which the tests deliberately bend by talking plain HTTP to localhost.
 *
 * SameSite is honoured as browsers do (RFC 6265bis), so tests see what a browser sends: on a cross-site request a
 * `Strict` cookie is never sent, a `Lax` one (also a cookie without SameSite, the browsers' default) only on a
 * top-level navigation with a safe method (GET, HEAD), a `None` one always.
 */
export type SameSite = 'strict' | 'lax' | 'none';

/** Where a request comes from, for SameSite. */
export interface CookieRequestContext {
  /**
   * The URL of the page that made the request, then every URL of the redirects that led to it. The request is
   * same-site only if each of them is same-site with its target (browsers treat a redirect chain that left the site as
   * cross-site). Empty or absent: a request the user started (typed URL, bookmark), which is same-site.
   */
  initiators?: readonly string[];
  /** A top-level navigation (a link, a form, a redirect of one) rather than a fetch from the page. */
  navigation: boolean;
  method: string;
}

interface StoredCookie {
  value: string;
  sameSite: SameSite;
}

/**
 * The site of a URL, for SameSite: scheme and host, without the port (schemeful same-site). Hosts are compared whole
 * (no public-suffix list), so `a.example.com` and `b.example.com` count as two sites here, where a browser would see
 * one: stricter, never laxer. `127.0.0.1` and `localhost` are two sites, as in a browser.
 */
export function siteOf(url: string | URL): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.hostname}`;
}

/** Whether a request to `url` from `context` is same-site (RFC 6265bis 5.2): every initiator shares the target's site. */
export function isSameSite(url: string, initiators: readonly string[] = []): boolean {
  const target = siteOf(url);
  return initiators.every((initiator) => siteOf(initiator) === target);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export class CookieJar {
  private readonly hosts = new Map<string, Map<string, StoredCookie>>();

  private stored(url: string): Map<string, StoredCookie> {
    const host = new URL(url).hostname;
    let cookies = this.hosts.get(host);
    if (!cookies) this.hosts.set(host, (cookies = new Map()));
    return cookies;
  }

  /** The cookies of `url`'s host, name to value (a copy; whatever their SameSite). */
  cookies(url: string): Map<string, string> {
    return new Map([...this.stored(url)].map(([name, cookie]) => [name, cookie.value]));
  }

  get(url: string, name: string): string | undefined {
    return this.stored(url).get(name)?.value;
  }

  /** The SameSite of one cookie as it was set (a cookie without the attribute is `lax`, the browsers' default). */
  sameSiteOf(url: string, name: string): SameSite | undefined {
    return this.stored(url).get(name)?.sameSite;
  }

  /** Sets (or with null, deletes) one cookie for `url`'s host; a planted cookie keeps the SameSite of the one it replaces (default lax). */
  set(url: string, name: string, value: string | null, sameSite?: SameSite): void {
    const cookies = this.stored(url);
    if (value === null) cookies.delete(name);
    else cookies.set(name, { value, sameSite: sameSite ?? cookies.get(name)?.sameSite ?? 'lax' });
  }

  /**
   * The Cookie header for a request to `url`, or undefined when there is nothing to send. Without a context the
   * request is one the user started (same-site): every cookie goes.
   */
  header(url: string, context?: CookieRequestContext): string | undefined {
    const sameSite = isSameSite(url, context?.initiators);
    const lax = context === undefined || (context.navigation && SAFE_METHODS.has(context.method.toUpperCase()));
    const sent = [...this.stored(url)].filter(([, c]) => sameSite || c.sameSite === 'none' || (c.sameSite === 'lax' && lax));
    return sent.length > 0 ? sent.map(([k, c]) => `${k}=${c.value}`).join('; ') : undefined;
  }

  /** Takes every Set-Cookie line of an answer from `url`. */
  store(url: string, setCookieLines: readonly string[]): void {
    const cookies = this.stored(url);
    for (const line of setCookieLines) {
      const [pair, ...attributes] = line.split(';');
      const index = pair!.indexOf('=');
      if (index < 0) continue;
      const name = pair!.slice(0, index).trim();
      const value = pair!.slice(index + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) <= Date.now()));
      const declared = attributes.map((a) => /^\s*samesite\s*=\s*(strict|lax|none)\s*$/i.exec(a)?.[1]?.toLowerCase()).find((v) => v !== undefined);
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, { value, sameSite: (declared as SameSite | undefined) ?? 'lax' });
    }
  }
}
