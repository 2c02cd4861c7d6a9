/**
 * JSON Web Key Sets for JWT verification: a local file (`--jwks-file`), read once at start, or a
 * URL (`--jwks-url`) fetched by `jose` on the first token it needs, cached, and fetched again when a
 * token names a key id it does not know (key rotation) at most once per cooldown.
 */
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/** What the verifier calls to find the key of a token, by its header's `kid` and `alg`. */
export type KeyLookup = JWTVerifyGetKey;

/** How a remote key set is fetched and cached. */
export interface RemoteJwksOptions {
  /** A request that takes longer fails the token at hand (401), not the gateway. Default 5 s. */
  timeoutMs?: number;
  /** Minimum time between two fetches, so unknown `kid`s cannot make us hammer the issuer. Default 30 s. */
  cooldownMs?: number;
  /** How long a fetched set is trusted before it is fetched again. Default 10 min. */
  cacheMaxAgeMs?: number;
}

/** Parses a key set's JSON; throws naming what is wrong. */
export function parseJwks(text: string): JSONWebKeySet {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new Error(`not valid JSON: ${(cause as Error).message}`);
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'object' && k !== null))
    throw new Error('a JSON Web Key Set must be an object with a non-empty "keys" array');
  // Only public keys belong in a verifier's set: a private one means the wrong file was given.
  if (keys.some((k) => 'd' in k || (k as { kty?: unknown }).kty === 'oct'))
    throw new Error('the set holds a private or symmetric key; give the public keys only');
  return value as JSONWebKeySet;
}

/** The lookup over a key set already in hand. */
export function localJwks(set: JSONWebKeySet): KeyLookup {
  return createLocalJWKSet(set);
}

/** The lookup over a key set at `url`, fetched lazily and cached by `jose`. */
export function remoteJwks(url: string | URL, options: RemoteJwksOptions = {}): KeyLookup {
  return createRemoteJWKSet(new URL(url), {
    timeoutDuration: options.timeoutMs ?? 5_000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
  });
}
