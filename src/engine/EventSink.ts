// Where a node's parts say what happened, for `docker events`: Docker's events.Message without its times
// (the sink stamps them as it records).
export type EventType = 'container' | 'network' | 'volume' | 'service' | 'node' | 'secret' | 'config' | 'image' | 'daemon' | 'plugin';

export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
}

export interface EventSink {
  record(event: EngineEvent): void;
}
