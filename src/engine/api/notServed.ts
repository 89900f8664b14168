// What the engine API answers for a request routemesh does not serve: Docker's error shape, naming the
// docker command that sent it (when it is one routemesh knows it lacks) and what routemesh does serve.
// The words "is not supported" let `docker inspect` go on to the next kind of object, as it does for
// a daemon without that kind.

const SERVED = 'It serves a swarm node\'s engine API: swarm, node, service and task commands (with service logs), '
  + 'networks, secrets, configs, volumes, events, containers (docker run, ps, logs, stats, stop, kill, restart, rm, inspect), '
  + 'docker pull and image inspect of its built-in images, docker system df, info and version.';

/** Paths a docker command sends that routemesh lacks: what the command is, and what to do instead. */
const KNOWN: readonly [RegExp, string, string][] = [
  [/^\/images\/json$/, 'Listing images (docker image ls)', 'its images are built in, and docker system df -v lists them'],
  [/^\/images\//, 'This image command', 'its images are built in (docker system df -v lists them); nothing is built, pushed, tagged, saved or loaded'],
  [/^\/build(?:\/|$)|^\/session$|^\/grpc$/, 'Building images (docker build)', 'its images are built in; run a program of your own with routemesh/exec'],
  [/^\/containers\/[^/]+\/exec$|^\/exec\//, 'docker exec', 'a container has no shell to enter; run the command as a container of its own (docker run --network host routemesh/exec CMD)'],
  [/^\/containers\/[^/]+\/(pause|unpause|rename|update|top|changes|export|archive|resize|commit|checkpoints)$/, 'docker container $1', ''],
  [/^\/containers\/prune$/, 'docker container prune', 'remove containers with docker rm'],
  [/^\/commit$/, 'docker commit', ''],
  [/^\/plugins(?:\/|$)/, 'Plugins', ''],
  [/^\/auth$/, 'docker login', 'routemesh pulls from no registry'],
  [/^\/swarm\/unlock/, 'Swarm autolock', ''],
];

export function notServedMessage(method: string, path: string, otherMethods: readonly string[]): string {
  if (otherMethods.length) {
    return `${method} ${path} is not supported by routemesh: it serves ${[...new Set(otherMethods)].join(', ')} there`;
  }
  for (const [pattern, what, instead] of KNOWN) {
    const match = pattern.exec(path);
    if (match) return `${what.replace('$1', match[1] ?? '')} is not supported by routemesh (${method} ${path})${instead ? `: ${instead}` : ''}. ${SERVED}`;
  }
  return `${method} ${path} is not supported by routemesh. ${SERVED}`;
}
