// `routemesh scenario run FILE`: a replayable scenario (examples/scenarios/): a cluster of its own, services,
// loads, a timeline of actions and expectations; it prints what happened and whether each expectation held,
// and exits 1 when one did not, so it can gate CI. routemesh's own verb.
import { readFile } from 'node:fs/promises';
import type { Command, CommandGroup } from '../Command.js';
import { failure } from '../errors.js';
import { cidr } from '../nodeFlags.js';
import { percentile, sharesOf, verdicts } from '../scenario/expectations.js';
import { readScenario } from '../scenario/scenarioFile.js';
import { runScenario } from '../scenario/ScenarioRun.js';

const run: Command = {
  name: 'run',
  usage: '[OPTIONS] FILE',
  summary: 'Run a scenario: its cluster, services, loads and timeline, then check its expectations',
  details: 'The cluster is the scenario\'s own, in this process, on addresses of its own (--subnet and the rest): it\n' +
    'leaves any other cluster alone. The same file and seed draw the same random numbers (p2c\'s picks, faults\'\n' +
    'jitter and losses). Exits 1 when an expectation does not hold or an action could not be done.\n' +
    'Examples are in examples/scenarios/.',
  flags: [
    { name: 'seed', kind: 'string', valueName: 'seed', help: "Seed the cluster's random draws with this instead of the file's" },
    { name: 'subnet', kind: 'string', valueName: 'cidr', help: 'Node addresses', defaultText: '127.240.0.0/24' },
    { name: 'task-subnet', kind: 'string', valueName: 'cidr', help: 'Task addresses', defaultText: '127.241.0.0/16' },
    { name: 'vip-subnet', kind: 'string', valueName: 'cidr', help: 'Service virtual IPs', defaultText: '127.242.0.0/16' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, args) {
    const file = args.positionals[0]!;
    const source = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw failure(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
    });
    let scenario;
    try {
      scenario = readScenario(source, file);
    } catch (error) {
      throw failure(`${file}: ${(error as Error).message}`);
    }
    const seed = args.string('seed');
    if (seed !== undefined) scenario.seed = seed;
    const addresses = {
      subnet: cidr(args, 'subnet', '127.240.0.0/24'),
      taskSubnet: cidr(args, 'task-subnet', '127.241.0.0/16'),
      vipSubnet: cidr(args, 'vip-subnet', '127.242.0.0/16'),
    };
    ctx.out(`Scenario: ${scenario.name} (seed ${scenario.seed}; ${scenario.cluster.nodes} nodes on ${addresses.subnet})`);
    const happenings = await runScenario(scenario, addresses, (atMs, line) => ctx.out(`${(atMs / 1000).toFixed(2).padStart(7)}s  ${line}`));
    ctx.out('\nLoads:');
    for (const [name, result] of happenings.loads) {
      const p50 = percentile(result.latencies, 50);
      const p99 = percentile(result.latencies, 99);
      const shares = [...sharesOf(scenario, happenings, name)].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([slot, n]) => `${slot} ${n}`).join(', ');
      ctx.out(`  ${name}: ${result.sent} sent, ${result.failed} failed; p50 ${p50?.toFixed(1) ?? '-'} ms, p99 ${p99?.toFixed(1) ?? '-'} ms; ` +
        `${scenario.loads[name]!.through} handed ${shares || 'nothing'}${result.answeredBy.size ? `; answered by ${result.answeredBy.size} task(s)` : ''}`);
    }
    const results = verdicts(scenario, happenings);
    ctx.out('\nExpectations:');
    for (const v of results) ctx.out(`  ${v.held ? 'ok  ' : 'FAIL'} ${v.expected}: ${v.measured}`);
    for (const error of happenings.errors) ctx.out(`  FAIL an action could not be done: ${error}`);
    const failed = results.filter((v) => !v.held).length + happenings.errors.length;
    ctx.out(failed ? `\n${failed} of ${results.length + happenings.errors.length} did not hold.` : `\nAll ${results.length} expectations held.`);
    return failed ? 1 : 0;
  },
};

export const scenarioGroup: CommandGroup = {
  name: 'scenario',
  summary: 'Run replayable scenarios: a cluster, load, a timeline of changes and faults, and expectations',
  commands: [run],
};
