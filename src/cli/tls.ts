/**
 * TLS for `sockwarden serve`: the certificate and key named by `--tls-cert` and `--tls-key`, read
 * and checked at start (a bad file exits 2 naming its flag) and read again on SIGHUP, when the new
 * pair replaces the old one for new connections only (`server.setSecureContext`): open sockets keep
 * the session they negotiated. A pair that fails to load on reload is logged and the old one kept,
 * so a half-copied renewal never takes the port down.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { SockwardenError } from '../errors.js';

/** The two files of a TLS identity, as configured. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** A certificate and its key, read and known to match. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** What the logs say of the certificate. */
  certificate: CertificateSummary;
}

/** What an operator needs to recognise a certificate in a log line. */
export interface CertificateSummary {
  subject: string;
  validTo: string;
  fingerprint256: string;
}

/** What SIGHUP reloads: an HTTPS server. */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

/**
 * Reads both files and checks that they load together: a PEM certificate (chain) and the private
 * key that matches it. Throws a plain Error saying which file failed and why.
 */
export function readTlsMaterial({ certFile, keyFile }: TlsFiles): TlsMaterial {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (cause) {
      throw new Error(`cannot read the ${what} ${file}: ${(cause as Error).message}`);
    }
  };
  const cert = read(certFile, 'certificate');
  const key = read(keyFile, 'key');
  let certificate: CertificateSummary;
  try {
    // Node builds the same context when it serves; building it here is what proves that the key
    // matches the certificate, before anything is replaced.
    createSecureContext({ cert, key });
    const x509 = new X509Certificate(cert);
    certificate = { subject: x509.subject, validTo: x509.validTo, fingerprint256: x509.fingerprint256 };
  } catch (cause) {
    // The reason goes in the message, not as a cause: pino would print it twice.
    throw new Error(
      `${certFile} and ${keyFile} do not load as a certificate and its key: ${(cause as Error).message}`,
    );
  }
  return { cert, key, certificate };
}

/** {@link readTlsMaterial} at start: any failure is a configuration error naming both flags. */
export function loadTlsAtStart(files: TlsFiles | undefined): TlsMaterial | undefined {
  if (files === undefined) return undefined;
  try {
    return readTlsMaterial(files);
  } catch (cause) {
    throw new SockwardenError('invalid_config', `--tls-cert, --tls-key: ${(cause as Error).message}`, {
      field: 'tls-cert',
      cause,
    });
  }
}

/**
 * Returns the SIGHUP handler of one server process: reloads `files` into `target`, or, without TLS,
 * only says there is nothing to reload (the signal's default action would have killed the process).
 */
export function tlsReloader(
  files: TlsFiles | undefined,
  target: () => SecureContextTarget | undefined,
  logger: Logger,
): () => void {
  return () => {
    const server = target();
    if (files === undefined || server === undefined) {
      logger.info('SIGHUP: no TLS configured, nothing to reload');
      return;
    }
    try {
      const { cert, key, certificate } = readTlsMaterial(files);
      server.setSecureContext({ cert, key });
      logger.info({ certificate }, 'TLS certificate reloaded');
    } catch (error) {
      logger.error(
        { err: error, certFile: files.certFile, keyFile: files.keyFile },
        'TLS certificate reload failed: keeping the current certificate',
      );
    }
  };
}
