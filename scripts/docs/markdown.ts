import { dirname, posix, relative } from 'node:path';

/** Generated blocks sit between `<!-- generated:<name>:start ... -->` and `<!-- generated:<name>:end -->`. */
const BLOCK = /<!-- generated:([a-z0-9:-]+):start[^>]*-->\n([\s\S]*?)<!-- generated:\1:end -->/g;

export const startMarker = (name: string) => `<!-- generated:${name}:start (npm run docs:generate writes this block; edit its source instead) -->`;
export const endMarker = (name: string) => `<!-- generated:${name}:end -->`;

/** The names of the generated blocks in a Markdown text, in order. */
export function blockNames(text: string): string[] {
  return [...text.matchAll(BLOCK)].map((m) => m[1]!);
}

/** The text with the block `name` replaced by `content`. Throws when the text has no such block (or has it twice). */
export function replaceBlock(text: string, name: string, content: string): string {
  const found = [...text.matchAll(BLOCK)].filter((m) => m[1] === name);
  if (found.length !== 1) throw new Error(`expected one generated block "${name}", found ${found.length}`);
  const match = found[0]!;
  const body = content.endsWith('\n') ? content : `${content}\n`;
  return text.slice(0, match.index) + `${startMarker(name)}\n${body}${endMarker(name)}` + text.slice(match.index! + match[0].length);
}

/** A table cell: one line, `|` escaped (also inside code spans: GitHub splits cells before it parses code). */
export function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

/**
 * Turns the repository paths a description names (`docs/security.md`, `docs/admin.md#tenant-wide-revocation`) into
 * links relative to the Markdown file the text goes into. Code spans are left alone.
 */
export function linkPaths(text: string, intoFile: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part.replace(/\b(docs\/[a-z0-9-]+\.md)(#[a-z0-9-]+)?/g, (_all, path: string, anchor: string | undefined) => {
            const target = relative(dirname(intoFile), path).split('\\').join(posix.sep) || posix.basename(path);
            return `[${path}${anchor ?? ''}](${target}${anchor ?? ''})`;
          }),
    )
    .join('');
}
