const BROWSERS = [
  ['Edg/', 'Edge'],
  ['OPR/', 'Opera'],
  ['Firefox/', 'Firefox'],
  ['Chrome/', 'Chrome'],
  ['Safari/', 'Safari'],
] as const;
const SYSTEMS = [
  ['Android', 'Android'],
  ['iPhone', 'iPhone'],
  ['iPad', 'iPad'],
  ['Windows', 'Windows'],
  ['Mac OS X', 'macOS'],
  ['CrOS', 'ChromeOS'],
  ['Linux', 'Linux'],
] as const;

/** A readable default for the device-name field, e.g. "Chrome on Linux". */
export function guessDeviceName(userAgent = navigator.userAgent): string {
  const browser = BROWSERS.find(([marker]) => userAgent.includes(marker))?.[1] ?? 'Browser';
  const os = SYSTEMS.find(([marker]) => userAgent.includes(marker))?.[1] ?? 'an unknown system';
  return `${browser} on ${os}`;
}

/**
 * A User-Agent header shortened for people, with the browser's major version where it shows one: "Chrome 126 on
 * Linux". Empty for an empty header (a session made by a script, say).
 */
export function describeUserAgent(userAgent: string): string {
  if (!userAgent.trim()) return '';
  const marker = BROWSERS.find(([m]) => userAgent.includes(m));
  // Safari's version sits in "Version/17.4"; the others' after their own marker.
  const version = marker && new RegExp(`${marker[1] == 'Safari' ? 'Version/' : marker[0]}(\\d+)`).exec(userAgent)?.[1];
  const [browser, ...rest] = guessDeviceName(userAgent).split(' ');
  return [browser, version, ...rest].filter(Boolean).join(' ');
}
