// `node inspect --pretty`: docker's human-readable node template, tabs included, so the text lines up
// the same way in a terminal.
import type { ApiNode } from '../apiTypes.js';
import { prettyPrint } from '../dockerText.js';

export function renderNodePretty(node: ApiNode): string {
  const lines: string[] = [`ID:\t\t\t${node.ID}`];
  if (node.Spec?.Name) lines.push(`Name:\t\t\t${node.Spec.Name}`);
  const labels = node.Spec?.Labels ?? {};
  if (Object.keys(labels).length > 0) {
    lines.push('Labels:', ...Object.keys(labels).sort().map((k) => ` - ${k}${labels[k] ? `=${labels[k]}` : ''}`));
  }
  lines.push(`Hostname:              \t${node.Description?.Hostname ?? ''}`);
  lines.push(`Joined at:             \t${prettyPrint(goTimeString(node.CreatedAt))}`);
  lines.push('Status:', ` State:\t\t\t${prettyPrint(node.Status?.State)}`);
  if (node.Status?.Message) lines.push(` Message:              \t${prettyPrint(node.Status.Message)}`);
  lines.push(` Availability:         \t${prettyPrint(node.Spec?.Availability)}`);
  if (node.Status?.Addr) lines.push(` Address:\t\t${node.Status.Addr}`);
  if (node.ManagerStatus) {
    lines.push('Manager Status:', ` Address:\t\t${node.ManagerStatus.Addr ?? ''}`,
      ` Raft Status:\t\t${prettyPrint(node.ManagerStatus.Reachability)}`,
      ` Leader:\t\t${node.ManagerStatus.Leader ? 'Yes' : 'No'}`);
  }
  const d = node.Description;
  lines.push('Platform:', ` Operating System:\t${d?.Platform?.OS ?? ''}`, ` Architecture:\t\t${d?.Platform?.Architecture ?? ''}`);
  lines.push('Resources:', ` CPUs:\t\t\t${Math.trunc((d?.Resources?.NanoCPUs ?? 0) / 1e9)}`,
    ` Memory:\t\t${bytesSize(d?.Resources?.MemoryBytes ?? 0)}`);
  const plugins = new Map<string, string[]>();
  for (const p of d?.Engine?.Plugins ?? []) plugins.set(p.Type, [...(plugins.get(p.Type) ?? []), p.Name]);
  if (plugins.size > 0) {
    lines.push('Plugins:', ...[...plugins.keys()].sort().map((k) => ` ${k}:\t\t${plugins.get(k)!.join(', ')}`));
  }
  lines.push(`Engine Version:\t\t${d?.Engine?.EngineVersion ?? ''}`);
  const engineLabels = d?.Engine?.Labels ?? {};
  if (Object.keys(engineLabels).length > 0) {
    lines.push('Engine Labels:', ...Object.keys(engineLabels).sort().map((k) => ` - ${k}${engineLabels[k] ? `=${engineLabels[k]}` : ''}`));
  }
  const tls = d?.TLSInfo;
  if (tls && (tls.TrustRoot || tls.CertIssuerSubject || tls.CertIssuerPublicKey)) {
    lines.push('TLS Info:', ' TrustRoot:', tls.TrustRoot ?? '',
      ` Issuer Subject:\t${tls.CertIssuerSubject ?? ''}`, ` Issuer Public Key:\t${tls.CertIssuerPublicKey ?? ''}`);
  }
  return lines.join('\n') + '\n';
}

/** Go's time.Time.String() for a UTC instant: "2026-11-22 12:52:35.341902 +0000 UTC". */
export function goTimeString(timestamp: string | undefined): string {
  const t = timestamp === undefined ? NaN : Date.parse(timestamp);
  if (Number.isNaN(t)) return '0001-01-01 00:00:00 +0000 UTC';
  const iso = new Date(t).toISOString(); // milliseconds only: take the fraction from the original text
  const fraction = /\.(\d+)/.exec(timestamp ?? '')?.[1]?.slice(0, 9).replace(/0+$/, '') ?? '';
  const utcOffset = /(Z|[+-]00:?00)$/i.test(timestamp ?? '');
  const frac = utcOffset ? fraction : iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac === '' ? '' : `.${frac}`} +0000 UTC`;
}

/** go-units BytesSize: binary units, 4 significant digits ("7.638GiB"). */
export function bytesSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];
  let size = bytes;
  let i = 0;
  while (size >= 1024 && i < units.length - 1) {
    size /= 1024;
    i++;
  }
  return `${Number(size.toPrecision(4))}${units[i]}`;
}
