// Docker-style option parsing: --name x, --name=x, repeatable list flags, -d/-q and bundles like -dq,
// `--` to end options, and (for `service create`) options stop at the first positional so that the
// image's own command keeps its flags. Meaning and validation of the values is the commands' job.
import { usageError } from './errors.js';

export type FlagKind = 'bool' | 'string' | 'list';

export interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  readonly kind: FlagKind;
  /** Placeholder shown in help: "string", "int", "duration", "list" ... */
  readonly valueName?: string;
  readonly help: string;
  readonly defaultText?: string;
}

const HELP_FLAG: FlagSpec = { name: 'help', short: 'h', kind: 'bool', help: 'Print usage' };

export class ParsedArgs {
  readonly positionals: string[];
  readonly #values: Map<string, string | boolean | string[]>;

  constructor(positionals: string[], values: Map<string, string | boolean | string[]>) {
    this.positionals = positionals;
    this.#values = values;
  }

  /** Whether the user gave the flag at all (pflag's Changed). */
  has(name: string): boolean {
    return this.#values.has(name);
  }

  string(name: string): string | undefined {
    const v = this.#values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  bool(name: string): boolean {
    return this.#values.get(name) === true;
  }

  list(name: string): string[] {
    const v = this.#values.get(name);
    return Array.isArray(v) ? v : [];
  }
}

export interface ParseOptions {
  /** The command as typed for error hints, e.g. "routemesh service create". */
  readonly command: string;
  /** false: everything from the first positional on is positional (docker's SetInterspersed(false)). */
  readonly interspersed?: boolean;
}

export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], options: ParseOptions): ParsedArgs {
  const all = [...specs, HELP_FLAG];
  const byName = new Map(all.map((s) => [s.name, s]));
  const byShort = new Map(all.filter((s) => s.short !== undefined).map((s) => [s.short!, s]));
  const values = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  const hint = `\nSee '${options.command} --help'.`;

  const set = (spec: FlagSpec, value: string | true, shown: string): void => {
    if (spec.kind === 'bool') {
      if (value === true || value === 'true' || value === '1') values.set(spec.name, true);
      else if (value === 'false' || value === '0') values.set(spec.name, false);
      else throw usageError(`invalid argument "${value}" for "${shown}" flag: expected true or false${hint}`);
    } else if (spec.kind === 'list') {
      const list = values.get(spec.name);
      values.set(spec.name, [...(Array.isArray(list) ? list : []), value as string]);
    } else {
      values.set(spec.name, value as string);
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      const spec = byName.get(name);
      if (spec === undefined) throw usageError(`unknown flag: --${name}${hint}`);
      if (eq !== -1) set(spec, arg.slice(eq + 1), `--${name}`);
      else if (spec.kind === 'bool') set(spec, true, `--${name}`);
      else if (i + 1 < argv.length) set(spec, argv[++i]!, `--${name}`);
      else throw usageError(`flag needs an argument: --${name}${hint}`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // A bundle of shorthands: booleans may be stacked (-dq); a value flag takes the rest or the next arg.
      for (let k = 1; k < arg.length; k++) {
        const letter = arg[k]!;
        const spec = byShort.get(letter);
        if (spec === undefined) throw usageError(`unknown shorthand flag: '${letter}' in ${arg}${hint}`);
        const rest = arg.slice(k + 1);
        if (spec.kind === 'bool') {
          if (rest.startsWith('=')) {
            set(spec, rest.slice(1), `-${letter}`);
            break;
          }
          set(spec, true, `-${letter}`);
          continue;
        }
        if (rest !== '') set(spec, rest.startsWith('=') ? rest.slice(1) : rest, `-${letter}`);
        else if (i + 1 < argv.length) set(spec, argv[++i]!, `-${letter}`);
        else throw usageError(`flag needs an argument: '${letter}' in -${letter}${hint}`);
        break;
      }
      continue;
    }
    positionals.push(arg);
    if (options.interspersed === false) {
      positionals.push(...argv.slice(i + 1));
      break;
    }
  }
  return new ParsedArgs(positionals, values);
}

/** A non-negative integer flag value, with docker's wording when it is not one. */
/**
 * A whole-number flag. Docker parses it as a uint64 (an int64 with `signed`, as --health-retries): past
 * that its strconv refuses the value, and so must we, or the spec carries a number (1e+23) no Go field holds.
 */
export function intFlag(args: ParsedArgs, name: string, { min = 0, signed = false } = {}): number | undefined {
  const text = args.string(name);
  if (text === undefined) return undefined;
  const parse = signed ? 'strconv.ParseInt' : 'strconv.ParseUint';
  if (!/^-?\d+$/.test(text.trim())) {
    throw usageError(`invalid argument "${text}" for "--${name}" flag: ${parse}: parsing "${text}": invalid syntax`);
  }
  const n = Number(text.trim());
  if (n >= (signed ? 2 ** 63 : 2 ** 64)) {
    throw usageError(`invalid argument "${text}" for "--${name}" flag: ${parse}: parsing "${text}": value out of range`);
  }
  if (n < min) throw usageError(`invalid argument "${text}" for "--${name}" flag: must be ${min} or more`);
  return n;
}

/** A flag that takes one of a few words, any case; the word lower-cased, with docker's wording when it is none. */
export function choiceFlag<C extends string>(args: ParsedArgs, name: string, choices: readonly C[]): C | undefined {
  const value = args.string(name)?.toLowerCase();
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    const listed = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} and ${choices.at(-1)}` : String(choices[0]);
    throw usageError(`invalid argument "${value}" for "--${name}" flag: only ${listed} are supported`);
  }
  return value as C;
}

/** The "Options:" block of a help text, laid out like cobra's. */
export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const rows = [...specs, HELP_FLAG].map((s) => {
    const left = `${s.short !== undefined ? `-${s.short}, ` : '    '}--${s.name}${s.kind === 'bool' ? '' : ` ${s.valueName ?? (s.kind === 'list' ? 'list' : 'string')}`}`;
    const right = s.help + (s.defaultText !== undefined ? ` (default ${s.defaultText})` : '');
    return [left, right] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}   ${r}`).join('\n');
}
