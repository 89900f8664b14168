// The few ASN.1 DER encodings an X.509 certificate needs (X.690), for RootCA.

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  if (length < 0x80) return Buffer.concat([Buffer.from([tag, length]), content]);
  const lengthBytes: number[] = [];
  for (let rest = length; rest > 0; rest >>= 8) lengthBytes.unshift(rest & 0xff);
  return Buffer.concat([Buffer.from([tag, 0x80 | lengthBytes.length, ...lengthBytes]), content]);
}

function base128(value: number): number[] {
  const bytes = [value & 0x7f];
  for (let rest = value >>> 7; rest > 0; rest >>>= 7) bytes.unshift(0x80 | (rest & 0x7f));
  return bytes;
}

const twoDigits = (n: number): string => String(n).padStart(2, '0');

export const der = {
  sequence: (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items)),
  set: (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items)),
  boolean: (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0])),
  /** A non-negative INTEGER from its big-endian bytes. */
  integer(bytes: Buffer): Buffer {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.subarray(start);
    // A set high bit would read as negative: a zero byte in front keeps it positive.
    return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
  },
  bitString: (bytes: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes])),
  octetString: (bytes: Buffer): Buffer => tlv(0x04, bytes),
  oid(dotted: string): Buffer {
    const [first, second, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
    return tlv(0x06, Buffer.from([first * 40 + second, ...rest.flatMap(base128)]));
  },
  printableString: (text: string): Buffer => tlv(0x13, Buffer.from(text, 'ascii')),
  utf8String: (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8')),
  /** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. */
  time(date: Date): Buffer {
    const year = date.getUTCFullYear();
    const rest = [date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
      .map(twoDigits).join('');
    return year < 2050
      ? tlv(0x17, Buffer.from(`${twoDigits(year % 100)}${rest}Z`, 'ascii'))
      : tlv(0x18, Buffer.from(`${year}${rest}Z`, 'ascii'));
  },
  /** A context-specific, constructed, explicit tag: [n] { content }. */
  explicit: (n: number, content: Buffer): Buffer => tlv(0xa0 | n, content),
  /** A context-specific, primitive, implicit tag: [n] IMPLICIT bytes (a dNSName, a key identifier). */
  implicit: (n: number, bytes: Buffer): Buffer => tlv(0x80 | n, bytes),
};
