/**
 * The authenticator `serve` runs with, from its validated configuration: a JWT verifier over the one
 * key source given, with the issuer, audience and `exp` checks asked for, or none with --insecure.
 * serve.ts calls {@link serveAuthenticator} instead of assembling it itself, so that every key flag
 * is wired in one place.
 */
import { readFileSync } from 'node:fs';
import { SockwardenError } from '../errors.js';
import { parseJwks } from '../server/jwks.js';
import { type JwtKey, jwtAuthenticator } from '../server/jwt.js';
import type { Authenticator } from '../transports/ws.js';
import type { ServeConfig } from './serve-config.js';

/** The key source of the config and the flag it came from; undefined when none was given. */
function keySource(config: ServeConfig): { key: JwtKey; flag: string } | undefined {
  if (config.jwtSecret !== undefined) return { key: { secret: config.jwtSecret }, flag: 'jwt-secret' };
  if (config.jwtPublicKeyFile !== undefined)
    return { key: { publicKeyPem: readFileSync(config.jwtPublicKeyFile, 'utf8') }, flag: 'jwt-public-key' };
  if (config.jwksFile !== undefined)
    return { key: { jwks: parseJwks(readFileSync(config.jwksFile, 'utf8')) }, flag: 'jwks-file' };
  if (config.jwksUrl !== undefined) return { key: { jwksUrl: config.jwksUrl }, flag: 'jwks-url' };
  return undefined;
}

/**
 * Builds the authenticator of `serve`; undefined in --insecure mode. Throws `invalid_config` when no
 * authentication is configured or a key is unusable (readServeConfig has checked most of it already).
 */
export function serveAuthenticator(config: ServeConfig): Authenticator | undefined {
  let source: ReturnType<typeof keySource>;
  try {
    source = keySource(config);
    if (source)
      return jwtAuthenticator(source.key, {
        issuer: config.jwtIssuer,
        audience: config.jwtAudience,
        requireExp: config.jwtRequireExp,
      });
  } catch (cause) {
    const flag = source?.flag ?? 'jwt-secret';
    throw new SockwardenError('invalid_config', `--${flag}: ${(cause as Error).message}`, {
      field: flag,
      cause,
    });
  }
  if (!config.insecure) {
    throw new SockwardenError(
      'invalid_config',
      'no authentication configured: pass --jwt-secret, --jwt-secret-file, --jwt-public-key, --jwks-file or --jwks-url (or --insecure, for development only)',
      { field: 'jwt-secret' },
    );
  }
  return undefined;
}

/**
 * The startup line about the dashboard, telling the truth about who can open it: with `--api-key`
 * anyone with the key; with `--insecure` and no key, callers on this machine only; otherwise nobody,
 * so no URL that could only answer 401 is printed, but how to turn it on. `base` is `http://HOST:PORT`.
 */
export function dashboardNotice(config: Pick<ServeConfig, 'apiKey' | 'insecure'>, base: string): string {
  if (config.apiKey !== undefined) return `dashboard: ${base}/dashboard (sign in with the --api-key)`;
  if (config.insecure)
    return `dashboard: ${base}/dashboard (no --api-key: open to callers on this machine only, via 127.0.0.1 or ::1)`;
  return 'dashboard: off without --api-key; start with --api-key "$(openssl rand -hex 32)" and sign in at /dashboard with it';
}
