/**
 * JWT authentication for server mode, on `jose`: HS256 with a shared secret, or RS256/ES256 with
 * a public key file. The user id is the `sub` claim; `exp` becomes the connection's token expiry.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import type { Principal } from '../core/ticket.js';
import type { Authenticator } from '../transports/ws.js';

/** Where the verification key comes from. */
export type JwtKey = { secret: string } | { publicKeyPem: string };

function asymmetricAlgorithm(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') return 'ES256';
  throw new Error(
    `unsupported public key type ${key.asymmetricKeyType ?? 'unknown'}: use an RSA (RS256) or EC P-256 (ES256) key`,
  );
}

/** Builds the authenticator. Throws at start when the key is unusable, never per request. */
export function jwtAuthenticator(source: JwtKey): Authenticator {
  let key: Uint8Array | KeyObject;
  let algorithms: string[];
  if ('secret' in source) {
    if (source.secret.length < 16) throw new Error('the JWT secret must be at least 16 characters');
    key = new TextEncoder().encode(source.secret);
    algorithms = ['HS256'];
  } else {
    key = createPublicKey(source.publicKeyPem);
    algorithms = [asymmetricAlgorithm(key)];
  }
  return async ({ token }): Promise<Principal> => {
    if (!token) throw new Error('no token: pass ?token= or Authorization: Bearer');
    try {
      const { payload } = await jwtVerify(token, key, { algorithms });
      if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 128) {
        throw new Error('the token has no usable "sub" claim (1 to 128 characters)');
      }
      return payload.exp === undefined
        ? { user: payload.sub }
        : { user: payload.sub, expiresAt: payload.exp * 1000 };
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new Error('the token has expired');
      if (error instanceof errors.JWSSignatureVerificationFailed)
        throw new Error('the token signature is invalid');
      if (error instanceof errors.JOSEError) throw new Error(`the token is invalid: ${error.message}`);
      throw error;
    }
  };
}
