// The `service ls` table: ID, NAME, MODE, REPLICAS, IMAGE, PORTS, rows in natural name order.
// PORTS come from Endpoint.Ports (ingress only), with consecutive ports merged into ranges as docker does.
import type { ApiPortConfig, ApiService } from '../apiTypes.js';
import { imageWithoutDigest, truncateId } from '../dockerText.js';
import { naturalCompare } from '../../shared/index.js';
import { renderTable } from '../table.js';

export function sortServices(services: readonly ApiService[]): ApiService[] {
  return [...services].sort((a, b) => naturalCompare(a.Spec?.Name ?? '', b.Spec?.Name ?? ''));
}

export function renderServiceList(services: readonly ApiService[]): string {
  const rows = sortServices(services).map((s) => [
    truncateId(s.ID),
    s.Spec?.Name ?? '',
    serviceMode(s),
    replicas(s),
    imageWithoutDigest(s.Spec?.TaskTemplate?.ContainerSpec?.Image ?? ''),
    ingressPorts(s.Endpoint?.Ports ?? []),
  ]);
  return renderTable([['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'], ...rows]);
}

export function serviceMode(service: ApiService): string {
  const mode = service.Spec?.Mode ?? {};
  if (mode.Global) return 'global';
  if (mode.ReplicatedJob) return 'replicated job';
  if (mode.GlobalJob) return 'global job';
  return mode.Replicated ? 'replicated' : '';
}

function replicas(service: ApiService): string {
  const running = service.ServiceStatus?.RunningTasks ?? 0;
  const desired = service.ServiceStatus?.DesiredTasks ?? 0;
  const max = service.Spec?.TaskTemplate?.Placement?.MaxReplicas ?? 0;
  return max > 0 ? `${running}/${desired} (max ${max} per node)` : `${running}/${desired}`;
}

/** docker's serviceContext.Ports: sorted by protocol then published port; uint32 arithmetic kept. */
export function ingressPorts(ports: readonly ApiPortConfig[]): string {
  const sorted = [...ports].sort((a, b) => {
    const pa = a.Protocol ?? '';
    const pb = b.Protocol ?? '';
    if (pa === pb) return (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0);
    return pa < pb ? -1 : 1;
  });
  const out: string[] = [];
  let range = { pStart: 0, pEnd: 0, tStart: 0, tEnd: 0, protocol: '' };
  const gap = (a: number, b: number): boolean => a < b || a - b > 1; // unsigned a - b > 1
  for (const p of sorted) {
    if (p.PublishMode !== 'ingress') continue;
    const published = p.PublishedPort ?? 0;
    const target = p.TargetPort ?? 0;
    const isRange = range.tEnd !== range.tStart;
    const overlaps = target <= range.tEnd;
    if ((p.Protocol ?? '') !== range.protocol || gap(published, range.pEnd) || gap(target, range.tEnd) || (isRange && overlaps)) {
      if (range.pStart > 0) out.push(formatRange(range));
      range = { pStart: published, pEnd: published, tStart: target, tEnd: target, protocol: p.Protocol ?? '' };
      continue;
    }
    range.pEnd = published;
    range.tEnd = target;
  }
  if (range.pStart > 0) out.push(formatRange(range));
  return out.join(', ');
}

function formatRange(r: { pStart: number; pEnd: number; tStart: number; tEnd: number; protocol: string }): string {
  const pub = r.pEnd > r.pStart ? `${r.pStart}-${r.pEnd}` : String(r.pStart);
  const tgt = r.tEnd > r.tStart ? `${r.tStart}-${r.tEnd}` : String(r.tStart);
  return `*:${pub}->${tgt}/${r.protocol}`;
}
