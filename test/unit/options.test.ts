import { describe, expect, it } from 'vitest';
import { readServeConfig } from '../../src/cli/serve-config.js';
import { DEFAULTS, resolveOptions, SockwardenError } from '../../src/index.js';
import { socketLimitsOf } from '../../src/options.js';

function configError(input: unknown): SockwardenError {
  try {
    resolveOptions(input);
  } catch (error) {
    if (error instanceof SockwardenError) return error;
    throw error;
  }
  throw new Error('expected an invalid_config error');
}

describe('options', () => {
  it('has the documented defaults and freezes the resolved config', () => {
    const config = resolveOptions({});
    expect(config).toEqual(DEFAULTS);
    expect(config).toMatchObject({
      maxBufferedBytes: 1024 * 1024,
      maxPayloadBytes: 64 * 1024,
      resumeWindowMs: 30_000,
      heartbeatIntervalMs: 25_000,
      pongTimeoutMs: 10_000,
      idleTimeoutMs: 300_000,
      maxLifetimeMs: 0,
      probeTimeoutMs: 1_000,
      perUserPolicy: 'reject',
      replay: { maxMessages: 1_000, maxBytes: 1024 * 1024 },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.replay)).toBe(true);
  });

  it('names an unknown option and lists the known ones', () => {
    const error = configError({ maxConections: 5 });
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain("unknown option 'maxConections'");
    expect(error.message).toContain('maxConnections');
  });

  it('names a bad policy and the allowed values', () => {
    const error = configError({ perUserPolicy: 'kick' });
    expect(error.message).toMatch(
      /'perUserPolicy' must be one of "reject", "evict-oldest", "queue" \(got "kick"\)/,
    );
    expect(error.field).toBe('perUserPolicy');
  });

  it('refuses negative and fractional limits, naming the option', () => {
    expect(configError({ maxConnectionsPerUser: -1 }).message).toContain("'maxConnectionsPerUser'");
    expect(configError({ replay: { maxMessages: 1.5 } }).message).toContain("'replay.maxMessages'");
  });

  it('checks options against each other', () => {
    expect(configError({ highWaterMarkBytes: 2_000_000 }).message).toContain("'maxBufferedBytes'");
    expect(configError({ heartbeatIntervalMs: 1_000, pongTimeoutMs: 1_000 }).field).toBe('pongTimeoutMs');
  });
});

describe('serve options of the HTTP side', () => {
  const strongKey = 'a'.repeat(16);

  it('keeps /metrics open by default, and puts it behind the key with --metrics-auth key', () => {
    expect(readServeConfig([], {}).metricsAuth).toBe('open');
    expect(readServeConfig(['--metrics-auth', 'key'], {}).metricsAuth).toBe('key');
    expect(readServeConfig([], { SOCKWARDEN_METRICS_AUTH: 'key' }).metricsAuth).toBe('key');
    expect(() => readServeConfig(['--metrics-auth', 'none'], {})).toThrow(
      /--metrics-auth: must be one of open, key \(got "none"\)/,
    );
  });

  it('takes an API key of 16 characters or more, from any source', () => {
    expect(readServeConfig(['--api-key', strongKey], {}).apiKey).toBe(strongKey);
    expect(readServeConfig([], { SOCKWARDEN_API_KEY: strongKey }).apiKey).toBe(strongKey);
    for (const [argv, env] of [
      [['--api-key', 'a'.repeat(15)], {}],
      [[], { SOCKWARDEN_API_KEY: 'ab' }],
    ] as const) {
      expect(() => readServeConfig([...argv], env)).toThrow(
        expect.objectContaining({ code: 'invalid_config', field: 'api-key' }),
      );
    }
  });
});

describe('per-IP options behind a proxy', () => {
  it('lets 0 turn the per-IP connection cap and connect rate off, and the socket cap with them', () => {
    const config = resolveOptions({ maxConnectionsPerIp: 0, connectRatePerIp: { perSecond: 0, burst: 0 } });
    expect(config.maxConnectionsPerIp).toBe(0);
    expect(config.connectRatePerIp).toEqual({ perSecond: 0, burst: 0 });
    expect(socketLimitsOf(config).maxSocketsPerIp).toBe(0);
    expect(socketLimitsOf(resolveOptions({ maxConnectionsPerIp: 10 })).maxSocketsPerIp).toBe(74);
    // Other rates still refuse 0: there it would mean nothing may pass.
    expect(configError({ inboundRatePerConnection: { perSecond: 0, burst: 1 } }).field).toBe(
      'inboundRatePerConnection.perSecond',
    );
  });

  it('trusts no proxy by default, and takes CIDRs, a hop count or false', () => {
    expect(DEFAULTS.trustProxy).toEqual([]);
    expect(DEFAULTS.ipv6PrefixLength).toBe(64);
    expect(resolveOptions({ trustProxy: ['10.0.0.0/8', 'fd00::/8'] }).trustProxy).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
    ]);
    expect(resolveOptions({ trustProxy: 2 }).trustProxy).toBe(2);
    expect(resolveOptions({ trustProxy: false }).trustProxy).toEqual([]);
  });

  it('refuses a bad trustProxy or ipv6PrefixLength with invalid_config naming the option', () => {
    for (const bad of [true, 'loopback', -1, ['10.0.0.0/33'], ['nginx']]) {
      const error = configError({ trustProxy: bad });
      expect(error.code).toBe('invalid_config');
      expect(error.field).toBe('trustProxy');
      expect(error.message).toMatch(/'trustProxy'.*hop count/);
    }
    for (const bad of [0, 129, 64.5])
      expect(configError({ ipv6PrefixLength: bad }).field).toBe('ipv6PrefixLength');
  });

  it('reads --trust-proxy from a flag, the environment or a config file', () => {
    expect(readServeConfig(['--trust-proxy', '10.0.0.0/8, 127.0.0.1'], {}).options.trustProxy).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
    ]);
    expect(readServeConfig([], { SOCKWARDEN_TRUST_PROXY: '1' }).options.trustProxy).toBe(1);
    expect(readServeConfig(['--ipv6-prefix', '56'], {}).options.ipv6PrefixLength).toBe(56);
    expect(readServeConfig(['--connect-rate-per-ip', '0'], {}).options.connectRatePerIp).toEqual({
      perSecond: 0,
    });
    expect(() => readServeConfig(['--trust-proxy', 'yes'], {})).toThrow(
      expect.objectContaining({ code: 'invalid_config', field: 'trust-proxy' }),
    );
  });
});
