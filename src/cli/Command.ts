// The shape of a verb (`node ls`) and of a group of verbs (`node`), with their help texts and the
// argument-count checks every verb shares. The verbs themselves live in commands/.
import type { CommandContext } from './CommandContext.js';
import { usageError } from './errors.js';
import { formatFlagHelp, parseArgs, type FlagSpec, type ParsedArgs } from './flags.js';

export interface Command {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** What follows the command in the usage line, e.g. "[OPTIONS] NODE [NODE...]". */
  readonly usage: string;
  readonly summary: string;
  /** Extra help text after the summary (examples, notes). */
  readonly details?: string;
  readonly flags: readonly FlagSpec[];
  /** false: options end at the first positional (service create: the image's command keeps its flags). */
  readonly interspersed?: boolean;
  readonly minArgs?: number;
  readonly maxArgs?: number;
  run(ctx: CommandContext, args: ParsedArgs, path: string): Promise<number>;
}

export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
}

export function findCommand(group: CommandGroup, name: string): Command | undefined {
  return group.commands.find((c) => c.name === name || c.aliases?.includes(name));
}

export function commandHelp(command: Command, path: string): string {
  const aliases = command.aliases?.length ? `\nAliases:\n  ${[command.name, ...command.aliases].join(', ')}\n` : '';
  return `\nUsage:  ${path} ${command.usage}\n\n${command.summary}\n${command.details ? `\n${command.details}\n` : ''}` +
    `${aliases}\nOptions:\n${formatFlagHelp(command.flags)}\n`;
}

export function groupHelp(group: CommandGroup, path: string): string {
  const width = Math.max(...group.commands.map((c) => c.name.length)) + 3;
  const lines = group.commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return `\nUsage:  ${path} COMMAND\n\n${group.summary}\n\nCommands:\n${lines.join('\n')}\n\n` +
    `Run '${path} COMMAND --help' for more information on a command.\n`;
}

/** Parses, answers --help, checks the argument count, then runs. */
export async function runCommand(ctx: CommandContext, command: Command, argv: readonly string[], path: string): Promise<number> {
  const args = parseArgs(argv, command.flags, { command: path, interspersed: command.interspersed ?? true });
  if (args.bool('help')) {
    ctx.write(commandHelp(command, path));
    return 0;
  }
  const n = args.positionals.length;
  const { minArgs = 0, maxArgs = Infinity } = command;
  let problem: string | undefined;
  if (minArgs === maxArgs && n !== minArgs) {
    problem = minArgs === 0 ? 'accepts no arguments' : `requires exactly ${minArgs} argument${minArgs === 1 ? '' : 's'}`;
  } else if (n < minArgs) {
    problem = `requires at least ${minArgs} argument${minArgs === 1 ? '' : 's'}`;
  } else if (n > maxArgs) {
    problem = maxArgs === 0 ? 'accepts no arguments' : `requires at most ${maxArgs} argument${maxArgs === 1 ? '' : 's'}`;
  }
  if (problem !== undefined) {
    throw usageError(`"${path}" ${problem}.\nSee '${path} --help'.\n\nUsage:  ${path} ${command.usage}\n\n${command.summary}`);
  }
  return command.run(ctx, args, path);
}
