/**
 * Who the client is, behind proxies: the address per-IP limits, logs and stats use. Off by default,
 * the peer of the TCP socket is the client. With `trustProxy`, a peer the operator trusts may say
 * who it forwards for in `X-Forwarded-For` (or, when that is absent, RFC 7239 `Forwarded`); what an
 * untrusted peer says is ignored, so a client cannot choose its own address. Everything here is a
 * pure function of its arguments and never throws on what a peer sent: a header it cannot read
 * leaves the peer's address in place.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP, isIPv4, SocketAddress } from 'node:net';

/**
 * Which peers are proxies: a list of CIDRs or addresses (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`),
 * or a hop count (every peer is a proxy, and the client is that many hops back). `[]` and 0 are off.
 */
export type TrustProxy = readonly string[] | number;

/** What the transport and the socket guard ask of a {@link TrustProxy} setting. */
export interface ProxyTrust {
  /** False when no peer is trusted: the peer is the client, and headers are never read. */
  readonly enabled: boolean;
  /** The hop count, or undefined when trust is by CIDR. */
  readonly hops: number | undefined;
  /** Whether the (normalized) address belongs to a proxy whose forwarding headers are believed. */
  isProxy(address: string): boolean;
}

/** Default prefix that groups IPv6 addresses for per-IP limits: one host usually holds a /64. */
export const DEFAULT_IPV6_PREFIX = 64;

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * An IP address in one spelling: IPv4 as is (also when mapped into IPv6, `::ffff:1.2.3.4`, which
 * is how a dual-stack server sees IPv4 peers), IPv6 lower-case and compressed, without a zone.
 * Undefined when `text` is not an IP address.
 */
export function normalizeAddress(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6) return undefined;
  const canonical = new SocketAddress({ address: text, family: 'ipv6' }).address;
  return MAPPED_IPV4.exec(canonical)?.[1] ?? canonical;
}

/** The eight 16-bit groups of a canonical IPv6 address, an embedded dotted IPv4 tail included. */
function ipv6Groups(canonical: string): number[] {
  let text = canonical;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16));
}

/**
 * The key an address is counted under for per-IP limits: an IPv4 address as is, an IPv6 address by
 * its first `ipv6Prefix` bits (`2001:db8:1:2::/64`), since one host usually holds a whole prefix
 * and could rotate through it; at 128 each IPv6 address on its own. Anything that is not an IP
 * address (`unknown`) is its own key.
 */
export function addressKey(address: string, ipv6Prefix = DEFAULT_IPV6_PREFIX): string {
  const normalized = normalizeAddress(address);
  if (normalized === undefined) return address;
  if (isIPv4(normalized) || ipv6Prefix >= 128) return normalized;
  const masked = ipv6Groups(normalized).map((group, i) => {
    const bits = Math.min(16, Math.max(0, ipv6Prefix - 16 * i));
    return (group & (0xffff << (16 - bits)) & 0xffff).toString(16);
  });
  return `${new SocketAddress({ address: masked.join(':'), family: 'ipv6' }).address}/${ipv6Prefix}`;
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address, parsed; undefined when it is neither. */
export function parseCidr(
  text: string,
): { network: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text.trim() : text.slice(0, slash).trim();
  const network = normalizeAddress(address);
  if (network === undefined) return undefined;
  const family = isIPv4(network) ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  if (slash < 0) return { network, prefix: max, family };
  const bits = text.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(bits)) return undefined;
  let prefix = Number(bits);
  // `::ffff:10.0.0.0/104` is written for IPv6 but names IPv4 peers, which are normalized to IPv4.
  if (family === 'ipv4' && isIP(address) === 6) prefix -= 96;
  if (prefix < 0 || prefix > max) return undefined;
  return { network, prefix, family };
}

/**
 * Why `value` is not a trust-proxy setting, or undefined when it is one. Accepted: false, a
 * non-negative integer (a hop count; 0 is off), or a list of CIDRs or addresses.
 */
export function trustProxyProblem(value: unknown): string | undefined {
  const accepts =
    'takes a list of CIDRs or addresses (e.g. 10.0.0.0/8,fd00::/8,127.0.0.1) or a hop count (a non-negative integer); 0 or an empty list is off';
  if (value === false || (Number.isSafeInteger(value) && (value as number) >= 0)) return undefined;
  if (!Array.isArray(value)) return accepts;
  const bad = value.find((entry) => typeof entry !== 'string' || parseCidr(entry) === undefined);
  if (bad === undefined && value.every((entry) => typeof entry === 'string')) return undefined;
  return `${JSON.stringify(bad) ?? String(bad)} is not a CIDR or an IP address; ${accepts}`;
}

/**
 * A trust-proxy setting written as text (a flag or an environment variable): digits are a hop
 * count, anything else a comma-separated list of CIDRs. Returns the setting, or why it is not one.
 */
export function parseTrustProxyText(text: string): { value: TrustProxy } | { problem: string } {
  const trimmed = text.trim();
  const value: TrustProxy = /^\d+$/.test(trimmed)
    ? Number(trimmed)
    : trimmed
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean);
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    return { problem: trustProxyProblem(Number.NaN) as string };
  }
  if (Array.isArray(value) && value.length === 0 && trimmed !== '') {
    return { problem: trustProxyProblem(text) as string };
  }
  const problem = trustProxyProblem(value);
  return problem === undefined ? { value } : { problem };
}

/** Builds the {@link ProxyTrust} of a validated setting, with `node:net`'s `BlockList` for CIDRs. */
export function proxyTrust(setting: TrustProxy | false | undefined): ProxyTrust {
  if (typeof setting === 'number') {
    const hops = setting > 0 ? setting : undefined;
    return { enabled: hops !== undefined, hops, isProxy: () => hops !== undefined };
  }
  const list = new BlockList();
  let entries = 0;
  for (const text of setting || []) {
    const cidr = parseCidr(text);
    if (cidr === undefined) continue;
    list.addSubnet(cidr.network, cidr.prefix, cidr.family);
    entries++;
  }
  return {
    enabled: entries > 0,
    hops: undefined,
    isProxy: (address) => {
      const normalized = normalizeAddress(address);
      return normalized !== undefined && list.check(normalized, isIPv4(normalized) ? 'ipv4' : 'ipv6');
    },
  };
}

/**
 * One hop's address as a forwarding header writes it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
 * `[2001:db8::1]` or `[2001:db8::1]:5678`; undefined for anything else (`unknown`, an obfuscated
 * `_name`, garbage).
 */
export function hopAddress(text: string): string | undefined {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(trimmed);
  if (bracketed) return isIP(bracketed[1] as string) === 6 ? normalizeAddress(bracketed[1]) : undefined;
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(trimmed);
  return normalizeAddress(withPort ? withPort[1] : trimmed);
}

/** Splits `text` on `separator` outside quoted strings; undefined when a quote is left open. */
function splitOutsideQuotes(text: string, separator: string): string[] | undefined {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quoted && char === '\\') {
      current += char + (text[i + 1] ?? '');
      i++;
    } else if (char === '"') {
      quoted = !quoted;
      current += char;
    } else if (char === separator && !quoted) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  if (quoted) return undefined;
  parts.push(current);
  return parts;
}

/**
 * The `for=` of each element of an RFC 7239 `Forwarded` header, left to right, each parsed with
 * {@link hopAddress} (undefined for a hop that names no address). Undefined when the header is
 * malformed: an open quote or a parameter without `=` makes its element boundaries unreliable.
 */
export function forwardedFor(header: string): Array<string | undefined> | undefined {
  const elements = splitOutsideQuotes(header, ',');
  if (elements === undefined) return undefined;
  const hops: Array<string | undefined> = [];
  for (const element of elements) {
    if (element.trim() === '') continue;
    let hop: string | undefined;
    for (const pair of splitOutsideQuotes(element, ';') ?? []) {
      const equals = pair.indexOf('=');
      if (equals < 0) return undefined;
      if (pair.slice(0, equals).trim().toLowerCase() !== 'for') continue;
      let value = pair.slice(equals + 1).trim();
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
        value = value.slice(1, -1).replace(/\\(.)/g, '$1');
      }
      hop = hopAddress(value);
    }
    hops.push(hop);
  }
  return hops;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The hops the forwarding headers name, left (furthest) to right (nearest): `X-Forwarded-For`,
 * which nearly every proxy sets, or `Forwarded` when there is none. Not both: a proxy appends to
 * one of them, and the other then holds only what the client wrote.
 */
export function forwardedHops(headers: IncomingHttpHeaders): Array<string | undefined> | undefined {
  const xff = headerText(headers['x-forwarded-for']);
  if (xff !== undefined) return xff.split(',').map(hopAddress);
  const forwarded = headerText(headers.forwarded);
  return forwarded === undefined ? undefined : forwardedFor(forwarded);
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy and its forwarding headers
 * say more. By CIDR, the hops are walked from the right, skipping trusted proxies, and the first
 * untrusted one is the client (every hop trusted: the furthest). By hop count N, the client is the
 * Nth hop from the right (fewer hops: the furthest). A hop that names no address where one is
 * needed, or a malformed header, leaves the peer's address: only hops the walk reaches are read.
 */
export function clientAddress(
  peer: string | undefined,
  headers: IncomingHttpHeaders,
  trust: ProxyTrust,
): string {
  const peerAddress = normalizeAddress(peer) ?? peer ?? 'unknown';
  if (!trust.enabled || !trust.isProxy(peerAddress)) return peerAddress;
  const hops = forwardedHops(headers);
  if (hops === undefined || hops.length === 0) return peerAddress;
  if (trust.hops !== undefined) return hops[Math.max(0, hops.length - trust.hops)] ?? peerAddress;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i];
    if (hop === undefined) return peerAddress;
    if (!trust.isProxy(hop)) return hop;
  }
  return hops[0] ?? peerAddress;
}
