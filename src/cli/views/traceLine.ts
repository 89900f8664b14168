// `routemesh trace`'s lines: one a balancing decision, as a person reads them.
//   14:03:07.412 node1 127.1.0.1:8080/tcp 127.0.0.1:53422 → web.2 (round-robin) [web.1 serving 0 · web.2 serving 1 · web.3 ejected 0]
import type { ApiTraceRecord } from '../apiTypes.js';

/** A task's name without its ID: `web.2`, `web.<node ID>`. */
export const shortTaskName = (name: string): string => name.replace(/\.[0-9a-z]{25}$/, '');

export function traceLine(record: ApiTraceRecord): string {
  const time = record.at.slice(11, 23);
  const where = `${time} ${record.node} ${record.listener ?? ''}`;
  switch (record.type) {
    case 'pick': {
      const pool = (record.pool ?? []).map((m) => `${shortTaskName(m.name)} ${m.state} ${m.active}${m.weight !== 1 ? ` w${m.weight}` : ''}`).join(' · ');
      const retry = record.attempt && record.attempt > 1 ? `, try ${record.attempt}` : '';
      return `${where} ${record.client} → ${shortTaskName(record.name ?? '')} (${record.algorithm}${retry}) [${pool}]`;
    }
    case 'connect-failed': return `${where} connect to ${shortTaskName(record.name ?? '')} failed: ${record.reason}`;
    case 'failed': return `${where} not placed: ${record.reason}${record.detail ? ` (${record.detail})` : ''}`;
    case 'ejected': return `${where} ${shortTaskName(record.name ?? '')} ejected for ${Math.round((record.forMs ?? 0) / 1000)}s (ejection ${record.ejection})`;
    case 'returned': return `${where} ${shortTaskName(record.name ?? '')} back in the pool after its ejection`;
    case 'dropped': return `${time} ${record.node} ${record.count} records dropped: this reader fell behind`;
    default: return `${where} ${JSON.stringify(record)}`;
  }
}
