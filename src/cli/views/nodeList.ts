// The `node ls` table: ID (with * for the node answering), HOSTNAME, STATUS, AVAILABILITY,
// MANAGER STATUS, ENGINE VERSION, rows in natural hostname order, as docker prints it.
import type { ApiNode } from '../apiTypes.js';
import { prettyPrint } from '../dockerText.js';
import { naturalCompare } from '../../shared/index.js';
import { renderTable } from '../table.js';

export function sortNodes(nodes: readonly ApiNode[]): ApiNode[] {
  return [...nodes].sort((a, b) => naturalCompare(a.Description?.Hostname ?? '', b.Description?.Hostname ?? ''));
}

export function renderNodeList(nodes: readonly ApiNode[], selfId: string | undefined): string {
  const rows = sortNodes(nodes).map((n) => [
    `${n.ID} ${selfId !== undefined && selfId !== '' && n.ID === selfId ? '*' : ' '}`,
    n.Description?.Hostname ?? '',
    prettyPrint(n.Status?.State),
    prettyPrint(n.Spec?.Availability),
    managerStatus(n),
    n.Description?.Engine?.EngineVersion ?? '',
  ]);
  return renderTable([['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ENGINE VERSION'], ...rows]);
}

function managerStatus(node: ApiNode): string {
  if (node.ManagerStatus === undefined || node.ManagerStatus === null) return '';
  return node.ManagerStatus.Leader === true ? 'Leader' : prettyPrint(node.ManagerStatus.Reachability);
}
