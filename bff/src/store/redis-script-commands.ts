import type { RedisClient } from './redis-store-options.js';
import { scriptArgs, type LuaScript, type ScriptCall } from './redis-lua-script.js';
import { SCRIPTS, withBell } from './redis-scripts.js';

type ScriptArg = string | number;
type ScriptCommands = Record<string, (...args: ScriptArg[]) => Promise<unknown>>;
/** A pipeline with the scripts on it (ioredis copies `defineCommand`s onto pipelines); a command only queues there. */
export type ScriptPipeline = Record<string, (...args: ScriptArg[]) => unknown> & {
  call(command: string, ...args: ScriptArg[]): unknown;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
};

/** Runs a script by its declaration, KEYS and ARGV by name: on the client, or queued on a pipeline. */
export interface ScriptRunner {
  run<K extends string, A extends string>(script: LuaScript<K, A>, call: ScriptCall<K, A>): Promise<unknown>;
  queue<K extends string, A extends string>(pipeline: ScriptPipeline, script: LuaScript<K, A>, call: ScriptCall<K, A>): void;
}

/** Redis PX/PEXPIRE take positive integers; a non-positive TTL means "write no marker". */
export const ttlArg = (ms: number): string => String(Math.max(0, Math.ceil(ms)));

/** Registers every script on the client (a Cluster's bell variant on a Cluster). */
export function defineScripts(client: RedisClient, isCluster: boolean): ScriptRunner {
  for (const script of SCRIPTS) {
    client.defineCommand(script.name, { lua: withBell(script.lua, isCluster), numberOfKeys: script.keys.length });
  }
  const commands = client as unknown as ScriptCommands;
  return {
    run: (script, call) => commands[script.name]!(...scriptArgs(script, call)),
    queue: (pipeline, script, call) => void pipeline[script.name]!(...scriptArgs(script, call)),
  };
}
