/**
 * JWT authentication for server mode, on `jose`: HS256 with a shared secret, RS256/ES256 with a
 * public key file, or the keys of a JSON Web Key Set (a file or a URL). The user id is the `sub`
 * claim; `exp` becomes the connection's token expiry. Issuer, audience and a required `exp` are
 * optional checks on top.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors, type JSONWebKeySet, type JWTVerifyOptions, jwtVerify } from 'jose';
import type { Principal } from '../core/ticket.js';
import type { Authenticator } from '../transports/ws.js';
import { type KeyLookup, localJwks, type RemoteJwksOptions, remoteJwks } from './jwks.js';

/** Where the verification key comes from. */
export type JwtKey =
  | { secret: string }
  | { publicKeyPem: string }
  | { jwks: JSONWebKeySet }
  | { jwksUrl: string | URL; fetch?: RemoteJwksOptions };

/** Claims checked besides the signature and `sub`. */
export interface JwtChecks {
  /** Accepted `iss` values; empty or absent accepts any. */
  issuer?: readonly string[];
  /** Accepted `aud` values (one must match); empty or absent accepts any. */
  audience?: readonly string[];
  /** Refuse a token without `exp`, which would otherwise stay valid forever. */
  requireExp?: boolean;
}

/** Asymmetric algorithms a key set may use; `none` and HMAC are never taken from a key set. */
const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

function asymmetricAlgorithm(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') return 'ES256';
  throw new Error(
    `unsupported public key type ${key.asymmetricKeyType ?? 'unknown'}: use an RSA (RS256) or EC P-256 (ES256) key`,
  );
}

function keyOf(source: JwtKey): { key: Uint8Array | KeyObject | KeyLookup; algorithms: string[] } {
  if ('secret' in source) {
    if (source.secret.length < 16) throw new Error('the JWT secret must be at least 16 characters');
    return { key: new TextEncoder().encode(source.secret), algorithms: ['HS256'] };
  }
  if ('publicKeyPem' in source) {
    const key = createPublicKey(source.publicKeyPem);
    return { key, algorithms: [asymmetricAlgorithm(key)] };
  }
  if ('jwks' in source) return { key: localJwks(source.jwks), algorithms: JWKS_ALGORITHMS };
  return { key: remoteJwks(source.jwksUrl, source.fetch), algorithms: JWKS_ALGORITHMS };
}

/** A verification failure as the message a refused client reads in the 401 body. */
function refusal(error: unknown): Error {
  if (error instanceof errors.JWTExpired) return new Error('the token has expired');
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new Error('the token signature is invalid');
  if (error instanceof errors.JWTClaimValidationFailed)
    return new Error(`the token's "${error.claim}" claim is not accepted: ${error.message}`);
  if (error instanceof errors.JWKSNoMatchingKey)
    return new Error('no key of the key set matches the token (kid or alg)');
  // The key set could not be fetched: the client is refused (401) and retries; the gateway lives on.
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid)
    return new Error(`the key set is unavailable: ${error.message}`);
  if (error instanceof errors.JOSEError) return new Error(`the token is invalid: ${error.message}`);
  return error instanceof Error ? error : new Error(String(error));
}

/** Builds the authenticator. Throws at start when the key is unusable, never per request. */
export function jwtAuthenticator(source: JwtKey, checks: JwtChecks = {}): Authenticator {
  const { key, algorithms } = keyOf(source);
  const options: JWTVerifyOptions = { algorithms };
  if (checks.issuer?.length) options.issuer = [...checks.issuer];
  if (checks.audience?.length) options.audience = [...checks.audience];
  if (checks.requireExp) options.requiredClaims = ['exp'];
  return async ({ token }): Promise<Principal> => {
    if (!token) throw new Error('no token: pass ?token= or Authorization: Bearer');
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      // One call per key kind: jose types the key and the key-lookup overloads apart.
      payload =
        typeof key === 'function'
          ? (await jwtVerify(token, key, options)).payload
          : (await jwtVerify(token, key, options)).payload;
    } catch (error) {
      throw refusal(error);
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 128) {
      throw new Error('the token has no usable "sub" claim (1 to 128 characters)');
    }
    return payload.exp === undefined
      ? { user: payload.sub }
      : { user: payload.sub, expiresAt: payload.exp * 1000 };
  };
}
