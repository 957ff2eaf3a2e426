import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERROR_CODES } from '@latchkey/shared';
import { LatchkeyError } from '../../bff/src/errors/latchkey-error.js';
import { BffMetrics, METRIC_LABELS } from '../../bff/src/observability/metrics.js';
import { optionsSchema } from '../../bff/src/options.js';
import { GENERATED_BLOCKS } from '../../scripts/docs/blocks.js';
import { errorTable } from '../../scripts/docs/error-table.js';
import { generatedFiles } from '../../scripts/docs/generate.js';
import { replaceBlock } from '../../scripts/docs/markdown.js';
import { optionRows, optionsTable } from '../../scripts/docs/options-table.js';

/**
 * The reference tables of the READMEs and docs/ (options, error codes, metrics, bench figures) are generated from the
 * code and bench/results/latest.json by `npm run docs:generate` (scripts/docs). Here: the committed text is what the
 * generators write, and the generators read what they claim to read.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));

describe('generated reference tables', () => {
  it('every generated block in the docs is what `npm run docs:generate` writes', async () => {
    const files = await generatedFiles(root);
    expect(files.map((f) => f.file).sort()).toEqual([...new Set(GENERATED_BLOCKS.map((b) => b.file))].sort());
    for (const { file, current, expected } of files) {
      expect(current, `${file} is stale: run npm run docs:generate`).toBe(expected);
    }
  });

  describe('the check', () => {
    const scratch = () => {
      const dir = mkdtempSync(join(tmpdir(), 'latchkey-docs-'));
      mkdirSync(join(dir, 'docs'));
      mkdirSync(join(dir, 'bench/results'), { recursive: true });
      cpSync(join(root, 'bench/results/latest.json'), join(dir, 'bench/results/latest.json'));
      for (const file of ['README.md', 'bff/README.md', 'client/README.md', 'shared/README.md']) {
        mkdirSync(join(dir, file, '..'), { recursive: true });
        cpSync(join(root, file), join(dir, file));
      }
      for (const file of readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'))) cpSync(join(root, 'docs', file), join(dir, 'docs', file));
      return dir;
    };

    it('fails when a committed table was edited by hand, and the generator puts it back', async () => {
      const dir = scratch();
      try {
        const readme = readFileSync(join(dir, 'README.md'), 'utf8');
        const edited = readme.replace(/\| `eventStreams\.heartbeatSeconds` \| [^|]+ \|/, '| `eventStreams.heartbeatSeconds` | number 0..300 |');
        expect(edited).not.toBe(readme);
        writeFileSync(join(dir, 'README.md'), edited);
        const stale = (await generatedFiles(dir)).filter((f) => f.current !== f.expected);
        expect(stale.map((f) => f.file)).toEqual(['README.md']);
        expect(stale[0]!.expected).toBe(readme);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('fails when a bench figure changed in the results but not in the docs', async () => {
      const dir = scratch();
      try {
        const path = join(dir, 'bench/results/latest.json');
        const bench = JSON.parse(readFileSync(path, 'utf8')) as { propagation: { p99Ms: number } };
        bench.propagation.p99Ms = 123.4;
        writeFileSync(path, JSON.stringify(bench));
        const stale = (await generatedFiles(dir)).filter((f) => f.current !== f.expected);
        expect(stale.map((f) => f.file)).toEqual(['docs/redis.md']);
        // Whatever the last run measured for the other cells: the changed p99 is the one that must show.
        expect(stale[0]!.expected).toMatch(/\| one Redis \| \d+ \| [\d.]+ ms \| 123\.4 ms \|/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a generated block without a generator, and a generator without its block', async () => {
      const dir = scratch();
      try {
        const security = join(dir, 'docs/security.md');
        writeFileSync(security, `${readFileSync(security, 'utf8')}\n<!-- generated:nobody:start -->\n<!-- generated:nobody:end -->\n`);
        await expect(generatedFiles(dir)).rejects.toThrow('docs/security.md: generated block "nobody" has no generator');
        await expect(generatedFiles(root, [...GENERATED_BLOCKS, { file: 'docs/live.md', name: 'missing', render: () => '' }])).rejects.toThrow(
          'docs/live.md: expected one generated block "missing", found 0',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('replaces only the named block', () => {
      const text = 'a\n<!-- generated:x:start -->\nold\n<!-- generated:x:end -->\nb\n<!-- generated:y:start -->\nkeep\n<!-- generated:y:end -->\n';
      const out = replaceBlock(text, 'x', 'new');
      expect(out).toContain('\nnew\n<!-- generated:x:end -->\nb\n<!-- generated:y:start -->\nkeep\n');
      expect(out).not.toContain('old');
      expect(replaceBlock(out, 'x', 'new')).toBe(out);
    });
  });

  describe('options table', () => {
    it('walks any grouping of the options: nested groups, records and arrays of objects, by dotted names', () => {
      // The shape a regrouping of the BFF's options takes (tokens, session, cookie, ...): nothing in the generator
      // knows the names.
      const limit = z.strictObject({ limit: z.number().int().positive(), windowMs: z.number().int().min(1000) }).meta({ typeName: '`{ limit, windowMs }`' });
      const schema = z.strictObject({
        tokens: z
          .strictObject({ accessTtlSeconds: z.number().int().positive().max(3600).default(300).describe('access-token lifetime') })
          .default({ accessTtlSeconds: 300 })
          .describe('access tokens'),
        session: z.strictObject({ idleTimeoutSeconds: z.number().int().positive().default(1800).describe('idle end') }).describe('device sessions'),
        cookie: z
          .strictObject({ name: z.string().optional().meta({ defaultText: '`__Host-latchkey`', description: 'the cookie' }) })
          .optional()
          .describe('cookie'),
        rateLimit: z
          .strictObject({ login: z.strictObject({ perIp: limit.default({ limit: 30, windowMs: 60_000 }).describe('per IP') }).describe('login') })
          .describe('limits'),
        policies: z
          .record(z.string(), z.strictObject({ mode: z.enum(['closed', 'open']).default('closed').describe('mode') }))
          .meta({ keyName: 'scope', description: 'per scope' }),
        clients: z
          .array(z.strictObject({ id: z.string().min(1).max(255).describe('client id') }))
          .max(100)
          .default([])
          .describe('clients'),
        oidc: z
          .strictObject({ issuer: z.url().describe('the IdP'), auth: z.union([z.string(), z.array(z.string())]).describe('how') })
          .refine(() => true)
          .optional()
          .describe('IdP sign-in'),
      });
      expect(optionRows(schema)).toEqual([
        { name: 'tokens', type: 'object', default: 'the defaults of its fields', description: 'access tokens' },
        { name: 'tokens.accessTtlSeconds', type: 'integer > 0, <= 3600', default: '`300` (5 min)', description: 'access-token lifetime' },
        { name: 'session', type: 'object', default: 'required', description: 'device sessions' },
        { name: 'session.idleTimeoutSeconds', type: 'integer > 0', default: '`1800` (30 min)', description: 'idle end' },
        { name: 'cookie', type: 'object', default: 'unset', description: 'cookie' },
        { name: 'cookie.name', type: 'string', default: '`__Host-latchkey`', description: 'the cookie' },
        { name: 'rateLimit', type: 'object', default: 'required', description: 'limits' },
        { name: 'rateLimit.login', type: 'object', default: 'required', description: 'login' },
        { name: 'rateLimit.login.perIp', type: '`{ limit, windowMs }`', default: '`{ limit: 30, windowMs: 60000 }`', description: 'per IP' },
        { name: 'policies', type: '{ [scope]: object }', default: 'required', description: 'per scope' },
        { name: 'policies.<scope>.mode', type: "`'closed'` | `'open'`", default: "`'closed'`", description: 'mode' },
        { name: 'clients', type: 'object[] (at most 100 items)', default: '`[]`', description: 'clients' },
        { name: 'clients[].id', type: 'string (1..255 characters)', default: 'required', description: 'client id' },
        { name: 'oidc', type: 'object', default: 'unset', description: 'IdP sign-in' },
        { name: 'oidc.issuer', type: 'URL', default: 'required', description: 'the IdP' },
        { name: 'oidc.auth', type: 'string | string[]', default: 'required', description: 'how' },
      ]);
    });

    it('refuses an option without a description, naming it', () => {
      const schema = z.strictObject({ documented: z.boolean().describe('yes'), group: z.strictObject({ bare: z.number() }).describe('a group') });
      expect(() => optionsTable(schema, 'README.md')).toThrow('options without a description (.describe() in the schema): group.bare');
    });

    it("the BFF's table: bounds from the schema, paths in descriptions linked from the file the table is in", () => {
      const rows = new Map(optionRows(optionsSchema).map((r) => [r.name, r]));
      // heartbeatSeconds is positive: 0 is refused, so the table must not offer it.
      expect(rows.get('eventStreams.heartbeatSeconds')?.type).toBe('number > 0, <= 300');
      expect(() => z.parse(optionsSchema.shape.eventStreams, { heartbeatSeconds: 0 })).toThrow();
      expect(rows.get('session.rotationGraceSeconds')).toMatchObject({ type: 'integer 0..120', default: '`15`' });
      expect(rows.get('scopePolicies.<scope>.maxStalenessMs')).toMatchObject({ default: '`30000`' });
      expect(rows.get('session.idleTimeoutSeconds')?.default).toBe('`1800` (30 min)');
      // A group that may be left out is one with defaults; `tokens` names the issuer, so it must be given.
      expect(rows.get('session')?.default).toBe('the defaults of its fields');
      expect(rows.get('rateLimit.refresh.perSession')?.default).toBe('`{ limit: 60, windowMs: 60000 }`');
      expect(rows.get('tokens')?.default).toBe('required');
      expect(optionsTable(optionsSchema, 'README.md')).toContain('[docs/tracing.md](docs/tracing.md)');
      expect(optionsTable(optionsSchema, 'docs/security.md')).toContain('[docs/tracing.md](tracing.md)');
    });
  });

  describe('error codes table', () => {
    it('has every code of the closed set once, with the status and headers LatchkeyError gives it', () => {
      const lines = errorTable('README.md').trim().split('\n').slice(2);
      expect(lines.map((l) => /^\| `([a-z_]+)` \|/.exec(l)?.[1])).toEqual([...ERROR_CODES]);
      for (const [i, code] of ERROR_CODES.entries()) {
        const error = new LatchkeyError(code);
        expect(lines[i]).toContain(`| ${error.status} |`);
        for (const [name, value] of Object.entries(error.headers)) expect(lines[i]).toContain(`${name}: ${value}`.replace(/\|/g, '\\|'));
      }
    });
  });

  describe('metrics table', () => {
    it('declares the values of every label of every labelled metric, and the code writes each of them', async () => {
      const metrics = new BffMetrics();
      const labelled = (metrics.registry.getMetricsAsArray() as unknown as { name: string; labelNames: string[] }[]).filter((m) => m.labelNames.length > 0);
      const declared = METRIC_LABELS as Record<string, Record<string, readonly string[]>>;
      expect(labelled.map((m) => m.name).sort()).toEqual(Object.keys(declared).sort());
      for (const metric of labelled) expect(Object.keys(declared[metric.name]!)).toEqual(metric.labelNames);
      // A declared value nobody writes would be a stale row: each appears as a literal in the BFF's or the wire
      // protocol's sources besides metrics.ts (refresh outcomes and stream events come through typed unions there).
      const sources = ['bff/src', 'shared/src']
        .flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).map((f) => join(root, dir, f)))
        .filter((f) => f.endsWith('.ts') && !f.endsWith('metrics.ts'))
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
      for (const [metric, labels] of Object.entries(declared)) {
        for (const [label, values] of Object.entries(labels)) {
          for (const value of values) expect(sources.includes(`'${value}'`), `${metric}{${label}="${value}"} is never written`).toBe(true);
        }
      }
    });

    it('types the counters by the declared values (checked by the type check, `npm run typecheck`)', async () => {
      const metrics = new BffMetrics();
      metrics.logins.inc({ outcome: 'oidc_login_rate_limited' });
      await expect(metrics.logins.get()).resolves.toMatchObject({ values: [{ labels: { outcome: 'oidc_login_rate_limited' }, value: 1 }] });
      // Never run: what does not compile.
      const _refused = () => {
        // @ts-expect-error a value METRIC_LABELS does not list
        metrics.logins.inc({ outcome: 'bogus' });
        // @ts-expect-error a label the metric does not have
        metrics.authDecisions.inc({ scope: 'device' });
      };
    });
  });
});
