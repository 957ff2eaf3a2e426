/**
 * A Lua script with named KEYS and ARGV. The declaration is the only place their positions are decided: the script's
 * Lua opens with `local <name> = KEYS[i]` / `ARGV[i]` lines generated from it, and a call passes objects by name
 * (`scriptArgs`), so JavaScript and Lua cannot disagree about what the fifth argument is.
 * Names are camelCase here and snake_case in Lua (`markerTtl` is `marker_ttl`).
 */
export interface LuaScript<K extends string = string, A extends string = string> {
  /** The command name registered on the client (`defineCommand`). */
  readonly name: string;
  readonly keys: readonly K[];
  readonly argv: readonly A[];
  /** Lua local that takes the ARGV after the named ones (a table), when the script takes a variable tail. */
  readonly rest?: string;
  /** The complete source: helpers, the generated bindings, then the body. */
  readonly lua: string;
}

/** How an ARGV value is bound in Lua: as the string Redis passes, or through `tonumber`. */
export type LuaArgType = 'string' | 'number';

export interface LuaScriptDefinition<K extends string, A extends string> {
  name: string;
  keys: readonly K[];
  /** In ARGV order. */
  argv: Readonly<Record<A, LuaArgType>>;
  rest?: string;
  /** Lua function definitions the body uses (before the bindings). */
  helpers?: string;
  body: string;
}

const LUA_NAME = /^[a-z][A-Za-z0-9]*$/;
const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function luaScript<const K extends string, const A extends string>(definition: LuaScriptDefinition<K, A>): LuaScript<K, A> {
  const argv = Object.keys(definition.argv) as A[];
  const names = [...definition.keys, ...argv, ...(definition.rest === undefined ? [] : [definition.rest])];
  const bad = names.find((name) => !LUA_NAME.test(name));
  if (bad !== undefined) throw new TypeError(`luaScript ${definition.name}: ${bad} is not a camelCase name`);
  if (new Set(names.map(snake)).size !== names.length) throw new TypeError(`luaScript ${definition.name}: a name is declared twice`);
  const bindings = [
    ...definition.keys.map((key, i) => `local ${snake(key)} = KEYS[${i + 1}]`),
    ...argv.map((arg, i) => (definition.argv[arg] === 'number' ? `local ${snake(arg)} = tonumber(ARGV[${i + 1}])` : `local ${snake(arg)} = ARGV[${i + 1}]`)),
    ...(definition.rest === undefined ? [] : [`local ${snake(definition.rest)} = {unpack(ARGV, ${argv.length + 1})}`]),
  ];
  return Object.freeze({
    name: definition.name,
    keys: Object.freeze([...definition.keys]),
    argv: Object.freeze(argv),
    ...(definition.rest === undefined ? {} : { rest: definition.rest }),
    lua: `${definition.helpers ?? ''}\n${bindings.join('\n')}\n${definition.body}`,
  });
}

/** A script's KEYS by name. */
export type ScriptKeys<S> = S extends LuaScript<infer K, string> ? Readonly<Record<K, string>> : never;
/** A script's ARGV by name; numbers go as decimal strings (written verbatim, so Lua's number formatting never touches them). */
export type ScriptArgv<S> = S extends LuaScript<string, infer A> ? Readonly<Record<A, string>> : never;

/** One call's KEYS and ARGV by name, and the variable tail of a script that declares `rest`. */
export interface ScriptCall<K extends string, A extends string> {
  keys: Readonly<Record<K, string>>;
  argv: Readonly<Record<A, string>>;
  rest?: readonly string[];
}

/** The positional arguments of one call, as `EVALSHA` takes them after the key count: KEYS, then ARGV. */
export function scriptArgs<K extends string, A extends string>(script: LuaScript<K, A>, call: ScriptCall<K, A>): string[] {
  if ((call.rest !== undefined) !== (script.rest !== undefined))
    throw new TypeError(`${script.name}: rest is ${script.rest === undefined ? 'not ' : ''}expected`);
  return [...script.keys.map((key) => call.keys[key]), ...script.argv.map((arg) => call.argv[arg]), ...(call.rest ?? [])];
}
