import { isIPv4, isIPv6 } from 'node:net';

/**
 * What a per-address limit counts a client address as: an IPv4 address itself, and an IPv6
 * address by its /64, written `2001:db8:1:2::/64`. One subscriber, even one host, commonly
 * holds a whole /64 and can pick any address in it, so counting full IPv6 addresses gives
 * one client 2^64 budgets. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, how a dual-stack
 * socket reports an IPv4 peer) is the IPv4 address. Brackets and a port around the address
 * (`[2001:db8::1]:443`, `192.0.2.1:443`) are dropped, as is an IPv6 zone (`%eth0`); anything
 * else that is not an address (`unknown`) is kept as it is.
 */
export function addressBlock(address: string): string {
  const bare = stripPortAndBrackets(address.trim());
  if (isIPv4(bare)) return bare;
  const unzoned = bare.replace(/%.*$/, '');
  if (!isIPv6(unzoned)) return bare;
  const groups = ipv6Groups(unzoned);
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0] = groups;
  if (a === 0 && b === 0 && c === 0 && d === 0 && e === 0 && f === 0xffff) {
    return [g >> 8, g & 0xff, h >> 8, h & 0xff].join('.');
  }
  return `${[a, b, c, d].map((group) => group.toString(16)).join(':')}::/64`;
}

function stripPortAndBrackets(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed?.[1]) return bracketed[1];
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address);
  return withPort?.[1] ?? address;
}

/** The eight 16-bit groups of a valid IPv6 address (a trailing dotted IPv4 part is two). */
function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((piece) => {
          if (!piece.includes('.')) return [parseInt(piece, 16)];
          const [w = 0, x = 0, y = 0, z = 0] = piece.split('.').map(Number);
          return [(w << 8) | x, (y << 8) | z];
        });
  const [head = '', tail] = address.split('::');
  const start = parse(head);
  if (tail === undefined) return start;
  const end = parse(tail);
  return [...start, ...Array<number>(8 - start.length - end.length).fill(0), ...end];
}
