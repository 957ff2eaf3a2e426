/**
 * Cookies by host, as a browser keeps them (cookies ignore ports): Set-Cookie lines in, a Cookie header out. Enough
 * for the BFF's and the IdP's cookies (no Domain, no Path scoping beyond "/"); an empty value, Max-Age=0 or an
 * Expires in the past deletes the cookie. Hand-written: a full RFC 6265 jar (tough-cookie) would also enforce Secure
 * and __Host- rules, which the tests deliberately bend by talking plain HTTP to localhost.
 */
export class CookieJar {
  private readonly hosts = new Map<string, Map<string, string>>();

  /** The live map of `url`'s host: name to value. */
  cookies(url: string): Map<string, string> {
    const host = new URL(url).hostname;
    let cookies = this.hosts.get(host);
    if (!cookies) this.hosts.set(host, (cookies = new Map()));
    return cookies;
  }

  get(url: string, name: string): string | undefined {
    return this.cookies(url).get(name);
  }

  /** Sets (or with null, deletes) one cookie for `url`'s host. */
  set(url: string, name: string, value: string | null): void {
    if (value === null) this.cookies(url).delete(name);
    else this.cookies(url).set(name, value);
  }

  /** The Cookie header for a request to `url`, or undefined when there is nothing to send. */
  header(url: string): string | undefined {
    const cookies = this.cookies(url);
    return cookies.size > 0 ? [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }

  /** Takes every Set-Cookie line of an answer from `url`. */
  store(url: string, setCookieLines: readonly string[]): void {
    const cookies = this.cookies(url);
    for (const line of setCookieLines) {
      const [pair, ...attributes] = line.split(';');
      const index = pair!.indexOf('=');
      if (index < 0) continue;
      const name = pair!.slice(0, index).trim();
      const value = pair!.slice(index + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) <= Date.now()));
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
  }
}
