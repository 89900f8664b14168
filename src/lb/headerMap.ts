// Header maps (lower-case name to value) as plain objects, which V8 keeps fast where prototype-less ones
// go to dictionary mode (1.3 µs a request, bench/README.md). The two names a plain object has of its own
// in lower case, `constructor` and `__proto__`, are set and read as own properties, so a client's header
// of either name stays a header like any other.
import type { IncomingHttpHeaders } from 'node:http';

function isObjectKey(name: string): boolean {
  return (name.length === 11 && name === 'constructor') || (name.length === 9 && name === '__proto__');
}

/** The value of `name` in `headers`, its own only. */
export function headerOf(headers: IncomingHttpHeaders, name: string): IncomingHttpHeaders[string] {
  if (isObjectKey(name)) return Object.hasOwn(headers, name) ? headers[name] : undefined;
  return headers[name];
}

export function setHeader(headers: IncomingHttpHeaders, name: string, value: IncomingHttpHeaders[string]): void {
  if (isObjectKey(name)) Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  else headers[name] = value;
}
