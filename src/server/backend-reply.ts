/**
 * Reading a backend's reply within limits: a JSON body, or NDJSON whose every line is delivered the
 * moment it is complete. A reply that breaks the contract raises {@link BadReplyError}, and a 4xx
 * raises {@link BackendRefusalError}. Neither is retried (the backend answered, on purpose or just
 * wrongly) and neither counts against the backend's circuit: what the backend answers depends on
 * what the client sent, and one client's input must not open the circuit for every session.
 */
import { UpstreamError } from '../governor/governor.js';

/** A reply that does not follow the bridge's contract. */
export class BadReplyError extends UpstreamError {
  constructor(message: string) {
    super(message, { retryable: false, countsAgainstUpstream: false });
    this.name = 'BadReplyError';
  }
}

/** The backend refused the request with a 4xx (other than 408 and 429): the client is told `backend_rejected`. */
export class BackendRefusalError extends UpstreamError {
  constructor(status: number) {
    super(`the backend refused the request: HTTP ${status}`, {
      status,
      retryable: false,
      countsAgainstUpstream: false,
    });
    this.name = 'BackendRefusalError';
  }
}

/** Reads a whole body as text, refusing more than `limit` bytes. */
export async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new BadReplyError(`the JSON reply is larger than maxPayloadBytes (${limit} bytes)`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses one JSON value, naming where it came from when it is not JSON. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BadReplyError(`${what} is not valid JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/**
 * Calls `onLine` with each parsed NDJSON line as soon as it is complete, awaiting it before reading
 * on (so a slow client slows the backend through TCP). `onChunk` is called for every chunk read.
 */
export async function readNdjson(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  onLine: (value: unknown) => Promise<void>,
  onChunk: () => void,
): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  const emit = async (line: string) => {
    const trimmed = line.trim();
    if (trimmed === '') return;
    if (Buffer.byteLength(trimmed) > limit)
      throw new BadReplyError(`an NDJSON line is larger than maxPayloadBytes (${limit} bytes)`);
    await onLine(parseJson(trimmed, 'an NDJSON line'));
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk();
      pending += decoder.decode(value, { stream: true });
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        await emit(line);
      }
      if (Buffer.byteLength(pending) > limit)
        throw new BadReplyError(`an NDJSON line is larger than maxPayloadBytes (${limit} bytes)`);
    }
    await emit(pending + decoder.decode());
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
}
