/**
 * Command-line parsing for every `relaycast` command, on `node:util` parseArgs with declared option
 * types: a boolean flag never swallows the next word (`stream get --json live/x`), a flag that
 * needs a value says so, and an unknown flag is an error that names it and points to --help.
 */
import { parseArgs } from 'node:util';

export type OptionTypes = Readonly<Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>;

/** A mistake in how the command was typed: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ParsedArgs {
  positionals: string[];
  /** Flags as given: string values, `true` for booleans (the last one wins for non-multiple flags). */
  flags: Map<string, string | true | string[]>;
}

/**
 * Parses `args` against `options` (plus --help/-h). `command` names the command in messages, e.g.
 * 'channel create'; `maxPositionals` bounds the words after it.
 */
export function parseCommandArgs(
  args: readonly string[],
  options: OptionTypes,
  command: string,
  maxPositionals: number,
): ParsedArgs {
  const declared: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    ...options,
    help: { type: 'boolean', short: 'h' },
  };
  const help = `run 'relaycast ${command} --help' for its flags`;
  // A lenient pass first, to name the offending flag in our own words.
  const { tokens } = parseArgs({
    args: [...args],
    options: declared,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const positionals: string[] = [];
  const flags = new Map<string, string | true | string[]>();
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = Object.hasOwn(declared, token.name) ? declared[token.name] : undefined;
    if (!spec) throw new UsageError(`unknown flag ${token.rawName} for 'relaycast ${command}'; ${help}`);
    if (spec.type === 'string') {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--')))
        throw new UsageError(`${token.rawName} needs a value; ${help}`);
      if (spec.multiple) {
        const prev = flags.get(token.name);
        flags.set(token.name, [...(Array.isArray(prev) ? prev : []), token.value]);
      } else flags.set(token.name, token.value);
    } else {
      if (token.inlineValue)
        throw new UsageError(
          `${token.rawName} is a switch and takes no value (got '${token.value}'); ${help}`,
        );
      flags.set(token.name, true);
    }
  }
  if (positionals.length > maxPositionals && !flags.has('help'))
    throw new UsageError(
      `unexpected argument '${positionals[maxPositionals]}' for 'relaycast ${command}'; ${help}`,
    );
  return { positionals, flags };
}
