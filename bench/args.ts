/**
 * The command line of every bench script: node:util parseArgs in strict mode, plus `--help`
 * (prints the script's usage and its options with their defaults, exits 0) and one-line errors
 * for unknown or malformed flags (exit 2) instead of a parseArgs stack.
 */
import { basename } from 'node:path';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

export function benchArgs<O extends ParseArgsOptionsConfig>(
  script: string,
  usage: string,
  options: O,
  { positionals = false, argv = process.argv.slice(2) }: { positionals?: boolean; argv?: string[] } = {},
): {
  values: { [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined };
  positionals: string[];
} {
  const name = basename(script);
  const help = () =>
    [
      usage.trim(),
      '',
      'options:',
      ...Object.entries(options).map(
        ([k, o]) =>
          `  --${k}${o.type === 'string' ? ' V' : ''}${o.default !== undefined ? `   (default ${String(o.default)})` : ''}`,
      ),
      '  --help   this text',
    ].join('\n');
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean' } },
      allowPositionals: positionals,
      strict: true,
    });
  } catch (err) {
    console.error(`${name}: ${(err as Error).message.split('\n')[0]}; see --help`);
    process.exit(2);
  }
  if (parsed.values.help) {
    console.log(help());
    process.exit(0);
  }
  return parsed as never;
}
