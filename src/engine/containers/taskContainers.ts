// The swarm's tasks this node runs, as the containers dockerd would list for them: named as Swarm names
// their containers (`<service>.<slot>.<task id>`, a global service's `<service>.<node id>.<task id>`),
// with Swarm's com.docker.swarm.* labels. Read from the node's copy of the view at each request.
import type { Service, Task, TaskState } from '../../swarm/index.js';
import { isTerminal } from '../../swarm/index.js';
import type { TaskOutput } from '../../runtime/index.js';
import { taskContainerId, taskContainerName } from '../taskContainer.js';
import type { ContainerEndpoint, ContainerFacts, ContainerPort, ContainerState } from './ContainerFacts.js';

/** Task states in which no container exists yet (or ever: a rejected task never got one). */
const NO_CONTAINER: readonly TaskState[] = ['new', 'allocated', 'pending', 'assigned', 'accepted', 'rejected', 'remove', 'orphaned'];

function stateOf(task: Task): ContainerState {
  if (task.Status.State === 'running') return 'running';
  // A task that failed to start never ran its container: Docker leaves it Created, with the error.
  if (isTerminal(task.Status.State)) return task.Status.ContainerStatus ? 'exited' : 'created';
  return 'created';
}

function portsOf(task: Task, service: Service | undefined, nodeAddress: string): ContainerPort[] {
  const ports: ContainerPort[] = [];
  for (const p of task.Status.PortStatus.Ports ?? []) {
    if (p.Protocol === 'tcp' || p.Protocol === 'udp') ports.push({ IP: nodeAddress, PrivatePort: p.TargetPort, PublicPort: p.PublishedPort!, Type: p.Protocol });
  }
  for (const p of service?.Endpoint.Spec.Ports ?? service?.Spec.EndpointSpec?.Ports ?? []) {
    if ((p.Protocol === 'tcp' || p.Protocol === 'udp') && !ports.some((q) => q.PrivatePort === p.TargetPort && q.Type === p.Protocol)) {
      ports.push({ PrivatePort: p.TargetPort, Type: p.Protocol });
    }
  }
  return ports;
}

function networksOf(task: Task): Record<string, ContainerEndpoint> {
  const networks: Record<string, ContainerEndpoint> = {};
  for (const attachment of task.NetworksAttachments ?? []) {
    const [ip = '', prefix = '0'] = (attachment.Addresses[0] ?? '').split('/');
    networks[attachment.Network.Spec.Name] = {
      NetworkID: attachment.Network.ID, IPAddress: ip, IPPrefixLen: Number(prefix), Gateway: '', Aliases: [],
      BindAddress: task.Endpoint?.Addr ?? ip,
    };
  }
  return networks;
}

/** The container of `task`, or undefined while (or when) it has none. */
export function taskContainer(task: Task, service: Service | undefined, nodeAddress: string, output: () => TaskOutput | undefined): ContainerFacts | undefined {
  if (NO_CONTAINER.includes(task.Status.State)) return undefined;
  const spec = task.Spec.ContainerSpec;
  const state = stateOf(task);
  const at = new Date(task.Status.Timestamp);
  const serviceName = service?.Spec.Name ?? task.Name?.split('.')[0] ?? task.ServiceID;
  const name = taskContainerName(task, serviceName);
  return {
    id: taskContainerId(task),
    name,
    image: spec.Image,
    command: [...(spec.Command ?? []), ...(spec.Args ?? [])],
    env: spec.Env ?? [],
    hostname: task.Hostname ?? task.ID.slice(0, 12),
    created: new Date(task.CreatedAt),
    state,
    startedAt: state === 'running' ? at : undefined,
    finishedAt: state === 'exited' ? at : undefined,
    exitCode: task.Status.ContainerStatus?.ExitCode ?? 0,
    error: task.Status.Err ?? '',
    pid: state === 'running' ? (task.Status.ContainerStatus?.PID ?? 0) : 0,
    labels: {
      ...spec.Labels,
      'com.docker.swarm.node.id': task.NodeID,
      'com.docker.swarm.service.id': task.ServiceID,
      'com.docker.swarm.service.name': serviceName,
      'com.docker.swarm.task': '',
      'com.docker.swarm.task.id': task.ID,
      'com.docker.swarm.task.name': name,
    },
    ports: portsOf(task, service, nodeAddress),
    networkMode: 'default',
    networks: networksOf(task),
    autoRemove: false,
    task: true,
    output,
  };
}
