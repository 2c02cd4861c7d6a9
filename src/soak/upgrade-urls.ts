/**
 * Upgrade URLs for soak peers: the user (for gateways in insecure mode), the session and, for
 * gateways started with `--jwt-secret`, an HS256 token minted once per user.
 */
import { SignJWT } from 'jose';
import type { SoakPlan } from './plan.js';

/** Builds upgrade URLs for one soak process. */
export class UpgradeUrls {
  private readonly tokens = new Map<string, Promise<string>>();

  constructor(private readonly plan: SoakPlan) {}

  /** The URL for `user` and `session`, resuming after `lastSeq` when it is above 0. */
  async urlFor(user: string, session: string, lastSeq?: number): Promise<string> {
    const url = new URL(this.plan.url);
    url.searchParams.set('user', user);
    url.searchParams.set('session', session);
    if (lastSeq !== undefined && lastSeq > 0) url.searchParams.set('lastSeq', String(lastSeq));
    const secret = this.plan.jwtSecret;
    if (secret !== undefined) url.searchParams.set('token', await this.token(user, secret));
    return url.toString();
  }

  private token(user: string, secret: string): Promise<string> {
    let token = this.tokens.get(user);
    if (!token) {
      token = new SignJWT({ sub: user })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('2h')
        .sign(new TextEncoder().encode(secret));
      this.tokens.set(user, token);
    }
    return token;
  }
}
