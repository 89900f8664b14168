// `routemesh fault ls`: one line a fault, saying in Swarm's words where it sits, what it does, and when it lifts.
import { faultEffect, faultTarget, humanDuration } from '../../shared/index.js';
import type { ApiFault } from '../apiTypes.js';
import { renderTable } from '../table.js';

export function renderFaultList(faults: readonly ApiFault[], now: number): string {
  const rows = faults.map((f) => [
    f.ID.slice(0, 12), f.Spec.Kind, faultTarget(f.Spec), faultEffect(f.Spec),
    f.Spec.ExpiresAt ? `in ${humanDuration(Math.max(0, Date.parse(f.Spec.ExpiresAt) - now)).toLowerCase()}` : 'when removed',
  ]);
  return renderTable([['ID', 'KIND', 'ON', 'EFFECT', 'LIFTS'], ...rows]);
}
