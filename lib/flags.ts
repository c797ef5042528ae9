// Command-line flags for both binaries: `--name value` or `--name=value`, typed, with
// defaults from the environment where MetalLB's manifests set one, and a generated --help.

export interface FlagSpec {
  name: string;
  help: string;
  /** The default when neither the flag nor `env` is given; undefined means "unset". */
  default?: string;
  /** An environment variable read when the flag is absent. */
  env?: string;
  kind?: 'string' | 'port' | 'bool';
  choices?: readonly string[];
}

export type ParsedFlags = { help: boolean; values: Record<string, string | undefined> };

export class FlagError extends Error {}

export function parseFlags(
  specs: readonly FlagSpec[],
  argv: readonly string[],
  env: Record<string, string | undefined>,
): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const given = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new FlagError(`unexpected argument "${arg}"; flags start with --`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) throw new FlagError(`unknown flag --${name}; see --help`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (spec.kind === 'bool') value = 'true';
    else {
      const next = argv[++i];
      if (next === undefined) throw new FlagError(`flag --${name} needs a value`);
      value = next;
    }
    given.set(name, value);
  }
  const values: Record<string, string | undefined> = {};
  for (const spec of specs) {
    const fromEnv = spec.env !== undefined ? env[spec.env] : undefined;
    const value = given.get(spec.name) ?? (fromEnv === '' ? undefined : fromEnv) ?? spec.default;
    if (value !== undefined) validate(spec, value);
    values[spec.name] = value;
  }
  return { help, values };
}

function validate(spec: FlagSpec, value: string): void {
  if (spec.kind === 'port') {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new FlagError(`--${spec.name} "${value}": want a port number from 0 to 65535`);
  }
  if (spec.kind === 'bool' && value !== 'true' && value !== 'false')
    throw new FlagError(`--${spec.name} "${value}": want true or false`);
  if (spec.choices && !spec.choices.includes(value))
    throw new FlagError(`--${spec.name} "${value}": want one of ${spec.choices.join(', ')}`);
}

export function usage(program: string, summary: string, specs: readonly FlagSpec[]): string {
  const lines = [`Usage: ${program} [flags]`, '', summary, '', 'Flags:'];
  for (const s of specs) {
    const extra: string[] = [];
    if (s.default !== undefined) extra.push(`default ${JSON.stringify(s.default)}`);
    if (s.env) extra.push(`env ${s.env}`);
    if (s.choices) extra.push(`one of ${s.choices.join('|')}`);
    lines.push(`  --${s.name}${s.kind === 'bool' ? '' : ' VALUE'}`);
    lines.push(`      ${s.help}${extra.length ? ` (${extra.join('; ')})` : ''}`);
  }
  lines.push('  --help', '      Print this help and exit.');
  return lines.join('\n') + '\n';
}
