import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every TypeScript snippet of the READMEs and docs/ compiles against the packages' sources: a renamed option, a
 * missing import or a wrong field fails here, not in a new user's editor. Snippets are compiled as virtual files
 * in one program (fast), each its own module.
 *
 * Conventions, for whoever writes docs:
 * - A fence `ts` or `tsx` is compiled; `json`, `sh`, `text` are not.
 * - A snippet with an `import` must import everything it uses. A snippet without one is a fragment: it gets the
 *   public exports of the Latchkey packages and express, and the application objects of snippet-context.d.ts.
 * - `<!-- snippet: at <folder> -->` on the line before the fence compiles it as a file in that folder (relative
 *   imports resolve from there; for test recipes). `<!-- snippet: modules <name> ... -->` declares packages the
 *   project does not install (their imports are untyped).
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = [
  'README.md',
  'client/README.md',
  'bff/README.md',
  'shared/README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

const FRAGMENT_IMPORTS = [
  "import express from 'express';",
  "import { createBff, MemoryStore, RedisStore, LatchkeyError, systemClock } from '@latchkey/bff';",
  "import { createGuard, KeyRing } from '@latchkey/bff/guard';",
  "import { ROUTES } from '@latchkey/shared';",
  "import { createSessionClient, SessionError } from '@latchkey/client';",
  "import { attachAxios } from '@latchkey/client/axios';",
  "import { SessionProvider, useSession, RequireSession } from '@latchkey/client/react';",
  "import { useDevices } from '@latchkey/client/react/devices';",
  "import { attachLive } from '@latchkey/client/live';",
].join('\n');

interface Snippet {
  /** `README.md:58` (the fence's line). */
  readonly where: string;
  readonly file: string;
  readonly code: string;
  /** Lines added before the snippet's own first line. */
  readonly offset: number;
  readonly modules: readonly string[];
}

function extract(doc: string): Snippet[] {
  const lines = readFileSync(join(root, doc), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(ts|tsx|typescript)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const directive = /^<!-- snippet: (at|modules) (.+?) -->$/.exec(lines[i - 1] ?? '');
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`${doc}:${i + 1}: unclosed fence`);
    const body = lines.slice(i + 1, end).join('\n');
    const folder = directive?.[1] === 'at' ? directive[2]! : '.docs-snippets';
    const name = `${doc.replace(/[/.]/g, '_')}_${i + 1}.${fence[1] === 'tsx' ? 'tsx' : 'ts'}`;
    const fragment = !/^import\s/m.test(body);
    const header = fragment ? `${FRAGMENT_IMPORTS}\nexport {};\n` : 'export {};\n';
    snippets.push({
      where: `${doc}:${i + 1}`,
      file: join(root, folder, name),
      code: header + body,
      offset: header.split('\n').length - 1,
      modules: directive?.[1] === 'modules' ? directive[2]!.split(/\s+/) : [],
    });
    i = end;
  }
  return snippets;
}

function compile(snippets: readonly Snippet[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const options: ts.CompilerOptions = { ...config.options, noEmit: true, types: ['node', 'react', 'react-dom'], jsx: ts.JsxEmit.ReactJSX };
  const virtual = new Map(snippets.map((s) => [s.file, s.code]));
  const ambient = join(root, '.docs-snippets', 'modules.d.ts');
  virtual.set(ambient, [...new Set(snippets.flatMap((s) => s.modules))].map((m) => `declare module '${m}';`).join('\n'));
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (file) => virtual.has(file) || fileExists.call(host, file);
  host.readFile = (file) => virtual.get(file) ?? readFile.call(host, file);
  host.getSourceFile = (file, language, ...rest) =>
    virtual.has(file) ? ts.createSourceFile(file, virtual.get(file)!, language, true) : getSourceFile.call(host, file, language, ...rest);
  const program = ts.createProgram([...virtual.keys(), join(root, 'docs/test/snippet-context.d.ts')], options, host);
  const bySnippet = new Map(snippets.map((s) => [s.file, s]));
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const snippet = d.file && bySnippet.get(d.file.fileName);
    if (!snippet || d.start === undefined) return `${d.file ? relative(root, d.file.fileName) : '(program)'}: ${message}`;
    const { line } = d.file!.getLineAndCharacterOfPosition(d.start);
    const [doc, fenceLine] = snippet.where.split(':');
    return `${doc}:${Number(fenceLine) + line - snippet.offset + 1}: ${message}`;
  });
}

describe('documentation snippets', () => {
  const snippets = DOCS.flatMap((doc) => {
    try {
      return extract(doc);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  });

  it('finds the snippets of the READMEs and docs/', () => {
    expect(snippets.length).toBeGreaterThan(15);
    expect(new Set(snippets.map((s) => s.where.split(':')[0]))).toContain('client/README.md');
  });

  it('every TypeScript snippet compiles against the packages', () => {
    expect(compile(snippets)).toEqual([]);
  }, 120_000);

  it('the check is real: a snippet using a missing import or a wrong option fails', () => {
    const bad: Snippet[] = [
      {
        where: 'x.md:1',
        file: join(root, '.docs-snippets', 'bad1.ts'),
        code: "import { createSessionClient } from '@latchkey/client';\nexport {};\nattachLive(createSessionClient({ bffUrl: '/auth' }));",
        offset: 2,
        modules: [],
      },
      {
        where: 'y.md:1',
        file: join(root, '.docs-snippets', 'bad2.ts'),
        code: `${FRAGMENT_IMPORTS}\nexport {};\nawait createBff({ ...options, noSuchOption: true });`,
        offset: FRAGMENT_IMPORTS.split('\n').length + 1,
        modules: [],
      },
    ];
    const errors = compile(bad);
    expect(errors.some((e) => e.startsWith('x.md:2:') && e.includes("Cannot find name 'attachLive'"))).toBe(true);
    expect(errors.some((e) => e.startsWith('y.md:2:') && e.includes('noSuchOption'))).toBe(true);
  }, 120_000);
});
