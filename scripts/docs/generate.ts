import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED_BLOCKS, type GeneratedBlock } from './blocks.js';
import { blockNames, replaceBlock } from './markdown.js';

/**
 * `npm run docs:generate`: rewrites every generated block of the READMEs and docs/ from the code and the bench's
 * results. `--check` writes nothing and exits 1 when a committed block differs (the docs test does the same).
 */

export interface GeneratedFile {
  file: string;
  current: string;
  expected: string;
}

/** The Markdown files that may hold generated blocks. */
export function markdownFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', 'bff/README.md', 'client/README.md', 'shared/README.md', ...docs];
}

/** Each file with generated blocks, as committed and as the generators write it. Throws on an unknown or missing block. */
export async function generatedFiles(root: string, blocks: readonly GeneratedBlock[] = GENERATED_BLOCKS): Promise<GeneratedFile[]> {
  const known = new Set(blocks.map((b) => `${b.file}#${b.name}`));
  for (const file of markdownFiles(root)) {
    for (const name of blockNames(readFileSync(join(root, file), 'utf8'))) {
      if (!known.has(`${file}#${name}`)) throw new Error(`${file}: generated block "${name}" has no generator (scripts/docs/blocks.ts)`);
    }
  }
  const byFile = new Map<string, GeneratedBlock[]>();
  for (const block of blocks) byFile.set(block.file, [...(byFile.get(block.file) ?? []), block]);
  const result: GeneratedFile[] = [];
  for (const [file, fileBlocks] of byFile) {
    const current = readFileSync(join(root, file), 'utf8');
    let expected = current;
    for (const block of fileBlocks) {
      try {
        expected = replaceBlock(expected, block.name, await block.render(root));
      } catch (error) {
        throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
      }
    }
    result.push({ file, current, expected });
  }
  return result;
}

async function main(): Promise<void> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const { file, current, expected } of await generatedFiles(root)) {
    if (current === expected) continue;
    stale.push(file);
    if (!check) writeFileSync(join(root, file), expected);
  }
  if (check && stale.length > 0) {
    console.error(`generated docs are stale: ${stale.join(', ')} (run npm run docs:generate)`);
    process.exit(1);
  }
  console.log(stale.length === 0 ? 'generated docs are up to date' : `rewrote ${stale.join(', ')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
