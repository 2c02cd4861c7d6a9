/**
 * The one thing the client SDK needs from a WebSocket implementation. The browser entry adapts the
 * native `WebSocket`, the Node entry adapts `ws`; the client logic above them is shared and testable.
 */

/** Why an upgrade was refused, when the platform can tell (Node can, browsers cannot). */
export interface UpgradeRefusal {
  /** HTTP status of the refusal, for example 429 or 503. */
  status: number;
  /** The `Retry-After` header in milliseconds, when the server sent one. */
  retryAfterMs?: number;
  /** The gateway's error code from the JSON body, for example `unauthenticated` (Node only). */
  code?: string;
  /** The gateway's message from the JSON body, for example `the token has expired` (Node only). */
  message?: string;
}

/** Callbacks a socket adapter calls, each at most in this order: open, text*, closed once. */
export interface SocketEvents {
  /** The WebSocket is open (the welcome frame has not arrived yet). */
  opened(): void;
  /** One text frame. */
  text(data: string): void;
  /** The socket is gone. `refusal` is set when the upgrade itself was refused with an HTTP status. */
  closed(code: number, reason: string, refusal?: UpgradeRefusal): void;
}

/** One open or opening socket. */
export interface ClientSocket {
  send(text: string): void;
  /** Starts a closing handshake. */
  close(code: number, reason: string): void;
  /**
   * Drops the socket at once without waiting for the peer, used when the server looks dead.
   * After it, the adapter calls no more events.
   */
  abort(): void;
}

/** Opens a socket to `url` with the `sockwarden.v1` subprotocol. */
export type SocketFactory = (url: string, events: SocketEvents) => ClientSocket;
