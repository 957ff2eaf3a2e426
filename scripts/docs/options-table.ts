import type { z } from 'zod';
import { linkPaths, table } from './markdown.js';

/**
 * The options table, read from a zod schema: every field of every nested object (dotted names; `name[]` for the
 * elements of an array of objects, `name.<key>` for a record's values) with its type, its default and the
 * description the schema carries (`.describe()`, or `.meta({ description })`). Nothing here knows the BFF's option
 * names, so regrouping the options needs no change here.
 *
 * Metadata the schema may carry besides `description`: `typeName` (a type zod cannot show, such as a function's or
 * a class's; it also stops the walk into an object: `{ limit, windowMs }` is one value), `defaultText` (a default
 * computed elsewhere, such as "the issuer") and `keyName` (what a record's keys are, e.g. `scope`).
 */

type Schema = z.core.$ZodType;

interface Meta {
  description?: string;
  typeName?: string;
  defaultText?: string;
  keyName?: string;
}

export interface OptionRow {
  name: string;
  type: string;
  default: string;
  description: string;
}

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'nonoptional', 'catch']);

function def(schema: Schema): z.core.$ZodTypeDef & Record<string, unknown> {
  return schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
}

function ownMeta(schema: Schema): Meta {
  const meta = (schema as unknown as { meta?: () => Meta | undefined }).meta?.() ?? {};
  const description = (schema as unknown as { description?: string }).description;
  return description === undefined ? meta : { ...meta, description: meta.description ?? description };
}

/** Metadata from the outermost schema inwards (a wrapper made after `.describe()` does not carry it). */
function metaOf(schema: Schema): Meta {
  const merged: Meta = {};
  for (let s: Schema | undefined = schema; s; s = inner(s)) {
    const own = ownMeta(s);
    for (const key of Object.keys(own) as (keyof Meta)[]) merged[key] ??= own[key];
  }
  return merged;
}

function inner(schema: Schema): Schema | undefined {
  const d = def(schema);
  if (WRAPPERS.has(d.type)) return d.innerType as Schema;
  if (d.type === 'pipe') return (def(d.out as Schema).type === 'transform' ? d.in : d.out) as Schema;
  return undefined;
}

/** The schema without optional/default/pipe wrappers. */
function core(schema: Schema): Schema {
  let s = schema;
  for (let next = inner(s); next; next = inner(s)) s = next;
  return s;
}

interface Presence {
  optional: boolean;
  hasDefault: boolean;
  defaultValue?: unknown;
}

function presence(schema: Schema): Presence {
  for (let s: Schema | undefined = schema; s; s = inner(s)) {
    const d = def(s);
    if (d.type === 'default' || d.type === 'prefault') return { optional: true, hasDefault: true, defaultValue: d.defaultValue };
    if (d.type === 'optional') return { optional: true, hasDefault: false };
  }
  return { optional: false, hasDefault: false };
}

interface Check {
  check: string;
  value?: number;
  inclusive?: boolean;
  minimum?: number;
  maximum?: number;
  format?: string;
}

function checksOf(schema: Schema): Check[] {
  return ((def(schema).checks as Schema[] | undefined) ?? []).map((c) => c._zod.def as unknown as Check);
}

function range(lower: Check | undefined, upper: Check | undefined): string {
  if (lower && upper && lower.inclusive && upper.inclusive) return `${lower.value}..${upper.value}`;
  const parts: string[] = [];
  if (lower) parts.push(`${lower.inclusive ? '>=' : '>'} ${lower.value}`);
  if (upper) parts.push(`${upper.inclusive ? '<=' : '<'} ${upper.value}`);
  return parts.join(', ');
}

function lengths(schema: Schema, unit: string): string {
  const checks = checksOf(schema);
  const min = checks.find((c) => c.check === 'min_length')?.minimum;
  const max = checks.find((c) => c.check === 'max_length')?.maximum;
  const units = (n: number) => (n === 1 ? unit.replace(/s$/, '') : unit);
  if (min !== undefined && max !== undefined) return `${min}..${max} ${units(max)}`;
  if (min !== undefined) return `at least ${min} ${units(min)}`;
  if (max !== undefined) return `at most ${max} ${units(max)}`;
  return '';
}

const withDetail = (type: string, detail: string) => (detail ? `${type} (${detail})` : type);

/** The type as the table shows it; `detailed`: with bounds and lengths (not inside unions and element types). */
export function typeOf(schema: Schema, detailed = true): string {
  const typeName = metaOf(schema).typeName;
  if (typeName) return typeName;
  const s = core(schema);
  const d = def(s);
  switch (d.type) {
    case 'string': {
      const base = d.format === 'url' ? 'URL' : 'string';
      return detailed ? withDetail(base, lengths(s, 'characters')) : base;
    }
    case 'number': {
      const checks = checksOf(s);
      const base = checks.some((c) => c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int32')) ? 'integer' : 'number';
      const bounds = range(
        checks.find((c) => c.check === 'greater_than'),
        checks.find((c) => c.check === 'less_than'),
      );
      return detailed && bounds ? `${base} ${bounds}` : base;
    }
    case 'boolean':
      return 'boolean';
    case 'enum':
      return Object.values(d.entries as Record<string, string>)
        .map((v) => `\`'${v}'\``)
        .join(' | ');
    case 'literal':
      return (d.values as unknown[]).map((v) => `\`${valueText(v)}\``).join(' | ');
    case 'array': {
      const element = d.element as Schema;
      const base = def(core(element)).type === 'object' && !metaOf(element).typeName ? 'object[]' : `${typeOf(element, false)}[]`;
      const elementDetail = detailed && def(core(element)).type === 'string' ? lengths(core(element), 'characters') : '';
      const detail = [lengths(s, 'items'), elementDetail && `each ${elementDetail}`].filter(Boolean).join(', ');
      return detailed ? withDetail(base, detail) : base;
    }
    case 'union':
      return (d.options as Schema[]).map((o) => typeOf(o, false)).join(' | ');
    case 'record':
      return `{ [${metaOf(schema).keyName ?? 'key'}]: ${typeOf(d.valueType as Schema, false)} }`;
    case 'object':
      return 'object';
    default:
      throw new Error(`no type for a zod ${d.type}: give it .meta({ typeName })`);
  }
}

/** A default as code: `'ES256'`, `300`, `['openid', 'profile']`, `{ limit: 30, windowMs: 60000 }`. */
export function valueText(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(valueText).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, v]) => `${k}: ${valueText(v)}`).join(', ')} }`;
  }
  return String(value);
}

const UNITS: readonly [number, string][] = [
  [86_400_000, 'days'],
  [3_600_000, 'hours'],
  [60_000, 'min'],
  [1000, 's'],
];

/** `604800` seconds reads as "7 days": for options whose name ends in Seconds or Ms, when the value is a whole unit. */
function duration(name: string, value: unknown): string | undefined {
  if (typeof value !== 'number' || value === 0) return undefined;
  const ms = /Seconds$/.test(name) ? value * 1000 : /Ms$/.test(name) ? value : undefined;
  if (ms === undefined || ms < 60_000) return undefined;
  const [size, unit] = UNITS.find(([size]) => ms % size === 0)!;
  const count = ms / size;
  return `${count} ${count === 1 && unit.endsWith('s') && unit.length > 1 ? unit.slice(0, -1) : unit}`;
}

function defaultOf(name: string, schema: Schema, isGroup: boolean): string {
  const meta = metaOf(schema);
  if (meta.defaultText) return meta.defaultText;
  const p = presence(schema);
  if (!p.optional) return 'required';
  if (!p.hasDefault) return 'unset';
  if (isGroup) return 'the defaults of its fields';
  const human = duration(name, p.defaultValue);
  return `\`${valueText(p.defaultValue)}\`${human ? ` (${human})` : ''}`;
}

/** Every row of the table for `schema` (an object schema), nested groups after their parent row. */
export function optionRows(schema: Schema, prefix = ''): OptionRow[] {
  const shape = def(core(schema)).shape as Record<string, Schema> | undefined;
  if (!shape) throw new Error('optionRows needs an object schema');
  const rows: OptionRow[] = [];
  for (const [key, field] of Object.entries(shape)) {
    const name = `${prefix}${key}`;
    const meta = metaOf(field);
    const c = core(field);
    const d = def(c);
    // Where the walk goes on: an object's fields, an array of objects' element fields, a record of objects' values.
    let nested: { schema: Schema; prefix: string } | undefined;
    if (!meta.typeName) {
      if (d.type === 'object') nested = { schema: c, prefix: `${name}.` };
      else if (d.type === 'array' && def(core(d.element as Schema)).type === 'object' && !metaOf(d.element as Schema).typeName)
        nested = { schema: d.element as Schema, prefix: `${name}[].` };
      else if (d.type === 'record' && def(core(d.valueType as Schema)).type === 'object' && !metaOf(d.valueType as Schema).typeName)
        nested = { schema: d.valueType as Schema, prefix: `${name}.<${meta.keyName ?? 'key'}>.` };
    }
    rows.push({
      name,
      type: typeOf(field),
      default: defaultOf(key, field, d.type === 'object' && nested !== undefined),
      description: meta.description ?? '',
    });
    if (nested) rows.push(...optionRows(nested.schema, nested.prefix));
  }
  return rows;
}

/** The Markdown table for the file `intoFile` (paths in descriptions become links relative to it). */
export function optionsTable(schema: Schema, intoFile: string): string {
  const rows = optionRows(schema);
  const missing = rows.filter((r) => r.description.trim() === '').map((r) => r.name);
  if (missing.length > 0) throw new Error(`options without a description (.describe() in the schema): ${missing.join(', ')}`);
  return table(
    ['option', 'type', 'default', 'meaning'],
    rows.map((r) => [`\`${r.name}\``, r.type, r.default, linkPaths(r.description, intoFile)]),
  );
}
