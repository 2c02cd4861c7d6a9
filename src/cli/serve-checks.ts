/**
 * Checks of `sockwarden serve` values that their kind alone cannot express (a port's range, a host's
 * syntax, a readable file), and the "did you mean" of unknown names. Kept apart from serve-config.ts
 * so that reading the three sources and judging one value stay two small things.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseJwks } from '../server/jwks.js';

/** A label of a DNS name: letters, digits and inner hyphens, 63 characters at most. */
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

function checkUrl(raw: string, protocols: readonly string[], article = 'a'): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `must be a URL (got ${JSON.stringify(raw)})`;
  }
  if (!protocols.includes(url.protocol) || url.hostname === '')
    return `must be ${article} ${protocols.map((p) => `${p}//`).join(' or ')} URL with a host (got ${JSON.stringify(raw)})`;
  return undefined;
}

function readable(path: string): string | undefined {
  try {
    readFileSync(path);
    return undefined;
  } catch (cause) {
    return `cannot read the file ${JSON.stringify(path)}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`;
  }
}

/** Checked at start so that a wrong file exits 2 instead of failing every upgrade. */
function publicKeyProblem(path: string): string | undefined {
  try {
    const type = createPublicKey(readFileSync(path, 'utf8')).asymmetricKeyType;
    return type === 'rsa' || type === 'ec' ? undefined : `${path} holds a ${type} key: use RSA or EC P-256`;
  } catch (cause) {
    return `${path} is not a PEM public key: ${(cause as Error).message}`;
  }
}

function jwksProblem(path: string): string | undefined {
  try {
    parseJwks(readFileSync(path, 'utf8'));
    return undefined;
  } catch (cause) {
    return `${path}: ${(cause as Error).message}`;
  }
}

/** Whether a JWKS URL is https, or http to this machine (a sidecar or a test): keys over plain http could be swapped. */
function checkJwksUrl(raw: string): string | undefined {
  const wrong = checkUrl(raw, ['https:', 'http:'], 'an');
  if (wrong) return wrong;
  const url = new URL(raw);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  return url.protocol === 'http:' && !loopback ? 'must be https:// (http:// only to localhost)' : undefined;
}

/**
 * The checks by flag name. Each returns what the value must be, or undefined when it is fine. The
 * text never repeats a secret's value.
 */
const CHECKS: Record<string, (value: unknown) => string | undefined> = {
  // A wrong port used to reach server.listen() and die there with a RangeError stack and exit 1.
  port: (v) => ((v as number) > 65_535 ? `must be a port from 0 to 65535 (got ${String(v)})` : undefined),
  // Checked here because listen() only fails at run time, with exit 1 and a DNS error.
  host: (v) => {
    const host = v as string;
    if (isIP(host) !== 0 || HOSTNAME.test(host)) return undefined;
    return host.startsWith('[')
      ? `must be an address without brackets, such as :: or ::1 (got ${JSON.stringify(host)})`
      : `must be an IP address or a host name (got ${JSON.stringify(host)})`;
  },
  path: (v) => ((v as string).startsWith('/') ? undefined : `must start with "/" (got ${JSON.stringify(v)})`),
  'backend-url': (v) => checkUrl(v as string, ['http:', 'https:'], 'an'),
  redis: (v) => checkUrl(v as string, ['redis:', 'rediss:']),
  // The gateway compares the Origin header as a string: "https://a.example/" never matches.
  'allowed-origins': (v) => {
    const wrong = (v as string[]).find((origin) => {
      try {
        return new URL(origin).origin !== origin;
      } catch {
        return true;
      }
    });
    return wrong === undefined
      ? undefined
      : `must list origins as scheme://host[:port], without path or trailing slash (got ${JSON.stringify(wrong)})`;
  },
  'jwt-secret': (v) =>
    (v as string).length < 16
      ? `the JWT secret must be at least 16 characters (got ${(v as string).length}): generate one with \`openssl rand -hex 32\``
      : undefined,
  'jwt-secret-file': (v) => readable(v as string),
  'jwt-public-key': (v) => readable(v as string) ?? publicKeyProblem(v as string),
  'jwks-file': (v) => readable(v as string) ?? jwksProblem(v as string),
  'jwks-url': (v) => checkJwksUrl(v as string),
};

/** What is wrong with `value` for the flag `name`, beyond its kind; undefined when nothing is. */
export function checkValue(name: string, value: unknown): string | undefined {
  return CHECKS[name]?.(value);
}

/** Levenshtein distance, for suggesting the name a typo meant. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] as number;
}

/** The candidate closest to `name`, when it is close enough to be a typo of it (a third of its length). */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.ceil(name.length / 3)) ? best : undefined;
}
