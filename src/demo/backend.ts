/**
 * The demo backend: an ordinary backend over the bridge's HTTP contract (docs/backend.md), in-process
 * only for convenience. It answers every chat message with an "assistant" reply streamed as NDJSON,
 * one token at a time with a realistic delay, and stops generating the moment the gateway aborts the
 * request, as an LLM backend should.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyBody } from '../server/backend-signature.js';

/** A running demo backend. */
export interface DemoBackend {
  /** The URL to pass as `--backend-url`. */
  url: string;
  close(): Promise<void>;
}

/** Options of {@link startDemoBackend}. */
export interface DemoBackendOptions {
  /** When set, requests without a valid signature are refused with 401. */
  secret?: string;
  /** Delay between tokens. Default 60 ms. */
  tokenDelayMs?: number;
  logger?: Logger;
}

/** The demo reply to `text`, as the tokens it is streamed in. */
export function replyTo(text: string): string[] {
  const words = text.trim().split(/\s+/).filter(Boolean).slice(0, 40);
  const reply = `You said ${words.length} word${words.length === 1 ? '' : 's'}: "${words.join(' ')}". Here is that again, slowly, one token at a time, so you can see the stream, drop the connection mid-reply, and watch it resume where it left off.`;
  return reply.split(/(?<= )/);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Starts the demo backend on a free loopback port. */
export async function startDemoBackend(options: DemoBackendOptions = {}): Promise<DemoBackend> {
  const delay = options.tokenDelayMs ?? 60;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const signature = req.headers[SIGNATURE_HEADER];
      const timestamp = req.headers[TIMESTAMP_HEADER];
      if (
        options.secret !== undefined &&
        !verifyBody(
          options.secret,
          {
            signature: typeof signature === 'string' ? signature : undefined,
            timestamp: typeof timestamp === 'string' ? timestamp : undefined,
          },
          body,
        )
      ) {
        res.writeHead(401).end();
        return;
      }
      const event = JSON.parse(body) as { event: string; id: string | null; data: unknown };
      if (event.event !== 'message') {
        res.writeHead(204).end();
        return;
      }
      const text =
        typeof event.data === 'object' && event.data !== null && 'text' in event.data
          ? String((event.data as { text: unknown }).text)
          : JSON.stringify(event.data);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const reply = event.id ?? 'reply';
      let stopped = false;
      res.on('close', () => {
        if (!res.writableFinished) {
          stopped = true;
          options.logger?.info(
            { reply },
            'demo backend: the gateway aborted the request; generation stopped',
          );
        }
      });
      for (const token of replyTo(text)) {
        if (stopped) return;
        res.write(`${JSON.stringify({ type: 'token', reply, text: token })}\n`);
        await new Promise((r) => setTimeout(r, delay));
      }
      res.end(`${JSON.stringify({ type: 'done', reply })}\n`);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(400).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
