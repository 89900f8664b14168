// The `routemesh` command: dispatch to `up` and the docker-like verb groups, root help, and the one
// place where errors become stderr text and an exit code (1 for failures, 2 for usage errors).
import { findCommand, groupHelp, runCommand, type Command, type CommandGroup } from './Command.js';
import { CommandContext } from './CommandContext.js';
import { faultGroup } from './commands/fault.js';
import { nodeGroup } from './commands/node.js';
import { scenarioGroup } from './commands/scenario.js';
import { serviceGroup } from './commands/service.js';
import { swarmGroup } from './commands/swarm.js';
import { createUpCommand } from './commands/up.js';
import { traceCommand } from './commands/trace.js';
import { EngineError } from './EngineClient.js';
import { CliError } from './errors.js';
import { processIo, type Io } from './Io.js';

export const VERSION = '0.1.0';

const GROUPS: readonly CommandGroup[] = [nodeGroup, serviceGroup, swarmGroup, faultGroup, scenarioGroup];

export async function main(argv: string[], io: Io = processIo(), up: Command = createUpCommand()): Promise<number> {
  const ctx = new CommandContext(io);
  try {
    return await dispatch(ctx, argv, up);
  } catch (error) {
    return report(ctx, error);
  } finally {
    ctx.close();
  }
}

async function dispatch(ctx: CommandContext, argv: readonly string[], up: Command): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    ctx.write(rootHelp(up));
    return 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    ctx.out(`routemesh version ${VERSION}`);
    return 0;
  }
  if (first === up.name) return runCommand(ctx, up, argv.slice(1), `routemesh ${up.name}`);
  if (first === traceCommand.name) return runCommand(ctx, traceCommand, argv.slice(1), `routemesh ${traceCommand.name}`);
  const group = GROUPS.find((g) => g.name === first);
  if (group === undefined) {
    throw new CliError('CLI_USAGE', `routemesh: '${first}' is not a routemesh command.\nSee 'routemesh --help'`);
  }
  const path = `routemesh ${group.name}`;
  if (second === undefined || second === '--help' || second === '-h' || second === 'help') {
    ctx.write(groupHelp(group, path));
    return 0;
  }
  const command = findCommand(group, second);
  if (command === undefined) {
    throw new CliError('CLI_USAGE', `${path}: '${second}' is not a ${path} command.\nSee '${path} --help'`);
  }
  return runCommand(ctx, command, rest, `${path} ${command.name}`);
}

function report(ctx: CommandContext, error: unknown): number {
  if (error instanceof CliError) {
    ctx.err(error.message);
    return error.exitCode;
  }
  if (error instanceof EngineError) {
    ctx.err(error.message);
    return 1;
  }
  ctx.err(`Error: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
}

function rootHelp(up: Command): string {
  const entries: [string, string][] = [[up.name, up.summary], ...GROUPS.map((g): [string, string] => [g.name, g.summary]), [traceCommand.name, traceCommand.summary]];
  const width = Math.max(...entries.map(([n]) => n.length)) + 3;
  return '\nUsage:  routemesh COMMAND\n\n' +
    'Docker Swarm mode\'s networking on one machine: simulated nodes, each with a Docker-compatible\n' +
    'engine API, services whose tasks are real servers, and a routing mesh on every node.\n\n' +
    'Commands:\n' + entries.map(([n, s]) => `  ${n.padEnd(width)}${s}`).join('\n') + '\n\n' +
    'Environment:\n' +
    '  ROUTEMESH_HOST   Engine to talk to (default tcp://127.1.0.1:2375, node1 of `routemesh up`);\n' +
    '                   DOCKER_HOST is used when it is not set\n\n' +
    'Start with:  routemesh up --demo    (then, from another terminal: routemesh service ps my-web)\n\n' +
    "Run 'routemesh COMMAND --help' for more information on a command.\n";
}

