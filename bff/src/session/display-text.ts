/**
 * Characters that must not reach a stored or displayed device name or user agent: controls (Cc), format characters
 * (Cf: bidi embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069, zero-width U+200B–U+200D, U+FEFF,
 * soft hyphen, ...) and the line and paragraph separators. A bidi override can make "evil.exe" read otherwise in a
 * session list; zero-width characters make two names look the same.
 */
const INVISIBLE_OR_CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/** `text` without control and invisible format characters. (An emoji joined with U+200D falls apart into its parts.) */
export function stripControls(text: string): string {
  return text.replace(INVISIBLE_OR_CONTROL, '');
}
