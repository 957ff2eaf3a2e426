import { describe, expect, it } from 'vitest';
import { luaScript, scriptArgs } from '../../src/store/redis-lua-script.js';
import { SCRIPTS } from '../../src/store/redis-scripts.js';

describe('the typed Lua boundary', () => {
  const script = luaScript({
    name: 'example',
    keys: ['session', 'sidIndex'],
    argv: { prefix: 'string', markerTtl: 'number' },
    rest: 'fields',
    helpers: '-- helpers\n',
    body: 'return marker_ttl',
  });

  it('binds KEYS and ARGV to snake_case locals in declaration order, after the helpers', () => {
    expect(script.lua).toBe(
      [
        '-- helpers\n',
        'local session = KEYS[1]',
        'local sid_index = KEYS[2]',
        'local prefix = ARGV[1]',
        'local marker_ttl = tonumber(ARGV[2])',
        'local fields = {unpack(ARGV, 3)}',
        'return marker_ttl',
      ].join('\n'),
    );
  });

  it('passes a call by name in the declared positions, whatever order the caller writes', () => {
    expect(scriptArgs(script, { argv: { markerTtl: '5', prefix: 'P{0}' }, keys: { sidIndex: 'B', session: 'A' }, rest: ['f', 'v'] })).toEqual([
      'A',
      'B',
      'P{0}',
      '5',
      'f',
      'v',
    ]);
    expect(() => scriptArgs(script, { keys: { session: 'A', sidIndex: 'B' }, argv: { prefix: 'P', markerTtl: '1' } })).toThrow('example: rest is expected');
  });

  it('refuses names Lua would not bind as declared', () => {
    expect(() => luaScript({ name: 'x', keys: ['a-b'], argv: {}, body: '' })).toThrow('luaScript x: a-b is not a camelCase name');
    expect(() => luaScript({ name: 'x', keys: ['userId'], argv: { userId: 'string' }, body: '' })).toThrow('luaScript x: a name is declared twice');
  });

  it('no script body reaches KEYS or ARGV by position', () => {
    for (const s of SCRIPTS) {
      const body = s.lua
        .split('\n')
        .filter((line) => !/^local [a-z_]+ = (tonumber\()?(KEYS|ARGV)\[\d+\]\)?$/.test(line) && !line.startsWith('local ' + (s.rest ?? '-')));
      expect(
        body.filter((line) => /\b(KEYS|ARGV)\b/.test(line)),
        s.name,
      ).toEqual([]);
    }
    expect(new Set(SCRIPTS.map((s) => s.name)).size).toBe(SCRIPTS.length);
  });
});
