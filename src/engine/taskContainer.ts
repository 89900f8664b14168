// A swarm task's container as Docker names it: its ID and the attributes its events carry (its image,
// its name `<service>.<slot>.<task ID>`, and the labels Swarm's executor puts on it).
import { createHash } from 'node:crypto';
import type { Service, Task } from '../swarm/index.js';

/**
 * A task's container ID: its ContainerStatus.ContainerID when that is a whole one, else that ID (Swarm's
 * task hostname, 12 hex characters) lengthened by a digest of the task's ID, so the short form is the same.
 * (`docker ps` and `docker events` both take it from here: one ID for a task everywhere.)
 */
export function taskContainerId(task: Task): string {
  const given = task.Status.ContainerStatus?.ContainerID || task.Hostname || '';
  if (/^[0-9a-f]{64}$/.test(given)) return given;
  const digest = createHash('sha256').update(`routemesh-task:${task.ID}`).digest('hex');
  return /^[0-9a-f]{1,63}$/.test(given) ? given + digest.slice(given.length) : digest;
}

/** Swarm's container name for the task: its Name, which the manager gives it so. */
export function taskContainerName(task: Task, serviceName: string): string {
  return task.Name ?? `${serviceName}.${task.Slot !== undefined && task.Slot > 0 ? task.Slot : task.NodeID}.${task.ID}`;
}

/** The container's labels (the service's own, then Swarm's) with its image and name: an event's Actor.Attributes. */
export function taskContainerAttributes(task: Task, service: Service | undefined): Record<string, string> {
  const name = taskContainerName(task, service?.Spec.Name ?? task.ServiceID);
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
