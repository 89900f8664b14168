// `routemesh service ...`: the verbs, each in its own file, gathered in docker's order.
import type { CommandGroup } from '../Command.js';
import { createCommand } from './serviceCreate.js';
import { inspectCommand } from './serviceInspect.js';
import { listCommand } from './serviceList.js';
import { logsCommand } from './serviceLogs.js';
import { psCommand } from './servicePs.js';
import { rmCommand } from './serviceRm.js';
import { scaleCommand } from './serviceScale.js';
import { rollbackCommand, updateCommand } from './serviceUpdate.js';

export const serviceGroup: CommandGroup = {
  name: 'service',
  summary: 'Manage Swarm services',
  commands: [createCommand, inspectCommand, logsCommand, listCommand, psCommand, rmCommand, rollbackCommand, scaleCommand, updateCommand],
};
