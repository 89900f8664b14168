// A swarm task's container as Docker names it: its ID and the attributes its events carry (its image,
// its name `<service>.<slot>.<task ID>`, and the labels Swarm's executor puts on it).
import { createHash } from 'node:crypto';
import type { Service, Task } from '../swarm/index.js';

/**
 * A 64-hex container ID that starts with the task's hostname, as a Swarm task's hostname is its
 * container's short ID; the same for the task wherever it is asked.
 */
export function taskContainerId(task: Task): string {
  const digest = createHash('sha256').update(task.ID).digest('hex');
  return ((task.Hostname ?? '') + digest).slice(0, 64);
}

/** The container's labels (the service's own, then Swarm's) with its image and name: an event's Actor.Attributes. */
export function taskContainerAttributes(task: Task, service: Service | undefined): Record<string, string> {
  const name = task.Name ?? `${service?.Spec.Name ?? task.ServiceID}.${task.Slot ?? task.NodeID}.${task.ID}`;
  return {
    ...task.Spec.ContainerSpec.Labels,
    'com.docker.swarm.node.id': task.NodeID,
    'com.docker.swarm.service.id': task.ServiceID,
    'com.docker.swarm.service.name': service?.Spec.Name ?? name.split('.')[0]!,
    'com.docker.swarm.task': '',
    'com.docker.swarm.task.id': task.ID,
    'com.docker.swarm.task.name': name,
    image: task.Spec.ContainerSpec.Image,
    name,
  };
}
