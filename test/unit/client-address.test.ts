/**
 * Client addresses behind proxies, as pure functions: which peer is trusted, how the forwarding
 * headers are walked, what a malformed header leaves, and how IPv6 addresses are grouped for
 * per-IP limits.
 */
import { describe, expect, it } from 'vitest';
import {
  addressKey,
  clientAddress,
  forwardedFor,
  hopAddress,
  normalizeAddress,
  parseCidr,
  parseTrustProxyText,
  proxyTrust,
  trustProxyProblem,
} from '../../src/transports/client-address.js';

const cidrs = proxyTrust(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

describe('normalizeAddress', () => {
  it('spells every address one way: IPv4-mapped IPv6 is IPv4, IPv6 compressed and lower-case', () => {
    expect(normalizeAddress('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeAddress('::FFFF:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(normalizeAddress('1.2.3.4')).toBe('1.2.3.4');
    for (const bad of ['unknown', '', '1.2.3', '1.2.3.4:80', '[::1]', undefined]) {
      expect(normalizeAddress(bad)).toBeUndefined();
    }
  });
});

describe('addressKey', () => {
  it('groups IPv6 by /64 by default: one /64 is one key, another /64 another', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe(addressKey('2001:db8:1:2::9'));
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
  });

  it('takes any prefix, 128 keeping each address apart, and leaves IPv4 as it is', () => {
    expect(addressKey('2001:db8:ffff:1::1', 48)).toBe('2001:db8:ffff::/48');
    expect(addressKey('2001:db8:ff:1::1', 36)).toBe('2001:db8::/36');
    expect(addressKey('2001:db8::1', 128)).toBe('2001:db8::1');
    expect(addressKey('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(addressKey('1.2.3.4', 8)).toBe('1.2.3.4');
    expect(addressKey('64:ff9b::1.2.3.4', 96)).toBe('64:ff9b::/96');
    expect(addressKey('unknown')).toBe('unknown');
  });
});

describe('trust-proxy settings', () => {
  it('parses CIDRs and single addresses, IPv4 and IPv6, and refuses the rest', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ network: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('fd00::/8')).toEqual({ network: 'fd00::', prefix: 8, family: 'ipv6' });
    expect(parseCidr('127.0.0.1')).toEqual({ network: '127.0.0.1', prefix: 32, family: 'ipv4' });
    expect(parseCidr('::ffff:10.0.0.0/104')).toEqual({ network: '10.0.0.0', prefix: 8, family: 'ipv4' });
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'ten/8', '10.0.0.0/', '10.0.0.0/x', 'loopback']) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });

  it('takes false, a hop count or a list of CIDRs, and says what it accepts otherwise', () => {
    for (const good of [false, 0, 2, [], ['10.0.0.0/8', '::1']])
      expect(trustProxyProblem(good)).toBeUndefined();
    for (const bad of [true, -1, 1.5, 'x', ['10.0.0.0/8', 'nope'], [5]]) {
      expect(trustProxyProblem(bad)).toMatch(/list of CIDRs .* or a hop count/);
    }
    expect(trustProxyProblem(['nope'])).toMatch(/"nope" is not a CIDR/);
  });

  it('reads the text of a flag: digits are a hop count, anything else a list', () => {
    expect(parseTrustProxyText('2')).toEqual({ value: 2 });
    expect(parseTrustProxyText(' 10.0.0.0/8 , fd00::/8 ')).toEqual({ value: ['10.0.0.0/8', 'fd00::/8'] });
    expect(parseTrustProxyText('')).toEqual({ value: [] });
    for (const bad of ['-1', 'yes', '10.0.0.0/8,bogus', ',', '99999999999999999999']) {
      expect(parseTrustProxyText(bad), bad).toHaveProperty('problem');
    }
  });

  it('trusts peers in the CIDRs (mapped IPv4 included), every peer with a hop count, nobody when off', () => {
    expect(cidrs.isProxy('10.1.2.3')).toBe(true);
    expect(cidrs.isProxy('::ffff:10.1.2.3')).toBe(true);
    expect(cidrs.isProxy('fd12::1')).toBe(true);
    expect(cidrs.isProxy('11.0.0.1')).toBe(false);
    expect(cidrs.isProxy('unknown')).toBe(false);
    expect(proxyTrust(2)).toMatchObject({ enabled: true, hops: 2 });
    expect(proxyTrust(2).isProxy('8.8.8.8')).toBe(true);
    for (const off of [0, [], false, undefined] as const) expect(proxyTrust(off).enabled).toBe(false);
  });
});

describe('forwarding headers', () => {
  it('reads each hop of X-Forwarded-For, with or without a port or brackets', () => {
    expect(hopAddress(' 1.2.3.4 ')).toBe('1.2.3.4');
    expect(hopAddress('1.2.3.4:5678')).toBe('1.2.3.4');
    expect(hopAddress('[2001:db8::1]:1234')).toBe('2001:db8::1');
    expect(hopAddress('[2001:db8::1]')).toBe('2001:db8::1');
    expect(hopAddress('2001:DB8::1')).toBe('2001:db8::1');
    for (const bad of ['unknown', '_hidden', '[1.2.3.4]', 'evil', ''])
      expect(hopAddress(bad)).toBeUndefined();
  });

  it('parses RFC 7239 Forwarded: quoted IPv6 with a port, several elements, other parameters', () => {
    expect(forwardedFor('for="[2001:db8::1]:1234"')).toEqual(['2001:db8::1']);
    expect(forwardedFor('for=192.0.2.60;proto=http;by=203.0.113.43, For="198.51.100.17:80"')).toEqual([
      '192.0.2.60',
      '198.51.100.17',
    ]);
    expect(forwardedFor('proto=https;host="a,b", for=unknown')).toEqual([undefined, undefined]);
    expect(forwardedFor('for="1.2.3.4')).toBeUndefined();
    expect(forwardedFor('for')).toBeUndefined();
  });
});

describe('clientAddress', () => {
  const xff = (value: string) => ({ 'x-forwarded-for': value });

  it('takes the first untrusted hop from the right when the peer is trusted', () => {
    expect(clientAddress('127.0.0.1', xff('203.0.113.9'), cidrs)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:127.0.0.1', xff('6.6.6.6, 203.0.113.9, 10.0.0.5'), cidrs)).toBe(
      '203.0.113.9',
    );
    expect(clientAddress('10.0.0.2', xff('10.0.0.7, 10.0.0.5'), cidrs)).toBe('10.0.0.7');
    // What the client wrote left of its own address is never reached, however malformed.
    expect(clientAddress('127.0.0.1', xff('garbage, 203.0.113.9'), cidrs)).toBe('203.0.113.9');
  });

  it('ignores the headers of an untrusted peer: a client cannot choose its address', () => {
    expect(clientAddress('198.51.100.1', xff('1.1.1.1'), cidrs)).toBe('198.51.100.1');
    expect(clientAddress('198.51.100.1', { forwarded: 'for=1.1.1.1' }, cidrs)).toBe('198.51.100.1');
    expect(clientAddress('127.0.0.1', xff('1.1.1.1'), proxyTrust([]))).toBe('127.0.0.1');
    expect(clientAddress('::ffff:127.0.0.1', {}, proxyTrust(0))).toBe('127.0.0.1');
  });

  it('keeps the peer for a malformed or empty header, and never throws', () => {
    for (const headers of [
      xff('not-an-ip'),
      xff('1.2.3.4, unknown'),
      xff(''),
      { forwarded: 'for="[2001:db8::1' },
      { forwarded: 'nonsense' },
      {},
    ]) {
      expect(clientAddress('127.0.0.1', headers, cidrs)).toBe('127.0.0.1');
    }
    expect(clientAddress(undefined, xff('1.2.3.4'), cidrs)).toBe('unknown');
  });

  it('reads Forwarded when there is no X-Forwarded-For, and X-Forwarded-For when there are both', () => {
    expect(clientAddress('127.0.0.1', { forwarded: 'for="[2001:db8::1]:1234"' }, cidrs)).toBe('2001:db8::1');
    expect(
      clientAddress('127.0.0.1', { forwarded: 'for=1.1.1.1', 'x-forwarded-for': '203.0.113.9' }, cidrs),
    ).toBe('203.0.113.9');
  });

  it('with a hop count takes the Nth hop from the right, or the furthest when there are fewer', () => {
    const chain = xff('6.6.6.6, 203.0.113.9, 10.0.0.5');
    expect(clientAddress('192.0.2.1', chain, proxyTrust(1))).toBe('10.0.0.5');
    expect(clientAddress('192.0.2.1', chain, proxyTrust(2))).toBe('203.0.113.9');
    expect(clientAddress('192.0.2.1', chain, proxyTrust(5))).toBe('6.6.6.6');
    expect(clientAddress('192.0.2.1', xff('x, 1.2.3.4'), proxyTrust(2))).toBe('192.0.2.1');
    expect(clientAddress('192.0.2.1', {}, proxyTrust(1))).toBe('192.0.2.1');
  });
});
