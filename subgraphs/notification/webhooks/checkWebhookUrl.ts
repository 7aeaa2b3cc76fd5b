import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ErrorCode, graphqlError } from '../../../lib/contracts/errors.js';

/** Longer URLs are refused: browsers and proxies commonly stop near this length. */
const MAX_URL_LENGTH = 2048;

/** What a webhook endpoint may be, beyond a public `https:` URL. */
export interface WebhookUrlPolicy {
  /** Accept `http:` too: for a receiver on a developer's machine, never in production. */
  allowHttp: boolean;
  /**
   * Accept hosts that are not on the public internet (loopback, private and link-local
   * networks, `localhost`): otherwise a webhook would let any user make the service send
   * requests into its own network, the cloud metadata address among them.
   */
  allowPrivateNetworks: boolean;
}

/**
 * The URL a user gave for a webhook endpoint, if the service may send to it; otherwise throws
 * BAD_USER_INPUT with a `reason`. Decides from the URL alone: a host name is not resolved
 * here (its addresses may change before any send), so sendWebhook checks the addresses it
 * connects to as well. An IP host is judged as the URL parser writes it, so `http://2130706433`
 * and `http://0x7f.1` are 127.0.0.1.
 */
export function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy): URL {
  if (raw.length > MAX_URL_LENGTH) {
    refuse('URL_TOO_LONG', `The webhook URL is longer than ${MAX_URL_LENGTH} characters.`);
  }
  const url = URL.parse(raw);
  if (url === null) refuse('NOT_A_URL', 'The webhook URL is not a valid absolute URL.');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    const allowed = policy.allowHttp ? 'https: or http:' : 'https:';
    refuse('SCHEME_NOT_ALLOWED', `The webhook URL must use ${allowed}, not ${url.protocol}.`);
  }
  if (url.username !== '' || url.password !== '') {
    refuse('CREDENTIALS_IN_URL', 'The webhook URL must not hold a user name or password.');
  }
  if (!policy.allowPrivateNetworks) refuseLocalHost(url.hostname);
  return url;
}

function refuseLocalHost(hostname: string): void {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIPv4(host) || isIPv6(host)) {
    if (!isPublicAddress(host)) {
      refuse('PRIVATE_ADDRESS', `The webhook URL's address ${host} is not on the public internet.`);
    }
    return;
  }
  // A trailing dot names the same host (`localhost.`); `*.localhost` is loopback by RFC 6761.
  const name = host.replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    refuse('LOCALHOST', `The webhook URL's host ${hostname} is this machine.`);
  }
}

function refuse(reason: string, message: string): never {
  throw graphqlError(ErrorCode.BAD_USER_INPUT, message, { reason });
}

/** IPv4 ranges that are not public, by IANA's special-purpose registry (RFC 6890). */
const NOT_PUBLIC_IPV4: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, the cloud metadata address 169.254.169.254 among them
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, the broadcast address 255.255.255.255 among them
];

/**
 * IPv6 prefixes that carry an IPv4 address in their last 32 bits, which a packet to them
 * reaches: IPv4-mapped (`::ffff:a.b.c.d`, how a dual-stack socket writes an IPv4 peer) and
 * the NAT64 well-known prefix (`64:ff9b::a.b.c.d`, translated to IPv4 by a gateway).
 */
const IPV4_CARRIERS = ['::ffff:0.0.0.0', '64:ff9b::0.0.0.0'];

/**
 * Every IPv4 range, and the same ranges under each IPv4-carrying prefix, so that
 * `::ffff:127.0.0.1` and `64:ff9b::a00:1` are judged as the IPv4 addresses they carry.
 */
const NOT_PUBLIC = new BlockList();
for (const [network, bits] of NOT_PUBLIC_IPV4) {
  NOT_PUBLIC.addSubnet(network, bits, 'ipv4');
  for (const carrier of IPV4_CARRIERS) {
    NOT_PUBLIC.addSubnet(carrier.replace('0.0.0.0', network), 96 + bits, 'ipv6');
  }
}
NOT_PUBLIC.addSubnet('2001:db8::', 32, 'ipv6'); // documentation

const CARRIES_IPV4 = new BlockList();
for (const carrier of IPV4_CARRIERS) CARRIES_IPV4.addSubnet(carrier, 96, 'ipv6');

/**
 * Global unicast, the only IPv6 block public hosts are given addresses in. Outside it are
 * `::`, `::1`, unique local fc00::/7, link-local fe80::/10, multicast ff00::/8, and the other
 * reserved or deprecated ranges (site-local, IPv4-compatible), which no webhook should reach.
 */
const GLOBAL_UNICAST = new BlockList();
GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6');

/**
 * Whether `address` (an IPv4 or IPv6 address, as DNS answers or a URL holds it, without
 * brackets) is on the public internet: not loopback, private, link-local, shared (CGNAT),
 * multicast, reserved, broadcast, benchmarking or documentation space. An IPv6 address that
 * carries an IPv4 one is judged as that IPv4 address. Anything that is not an address, or
 * that has a zone (`fe80::1%eth0`, meaningful only on one link), is not public.
 */
export function isPublicAddress(address: string): boolean {
  if (isIPv4(address)) return !NOT_PUBLIC.check(address, 'ipv4');
  if (!isIPv6(address) || address.includes('%')) return false;
  if (NOT_PUBLIC.check(address, 'ipv6')) return false;
  return CARRIES_IPV4.check(address, 'ipv6') || GLOBAL_UNICAST.check(address, 'ipv6');
}
