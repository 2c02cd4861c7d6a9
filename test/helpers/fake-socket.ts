import type { ClientSocket, SocketEvents } from '../../src/client/socket.js';

/** One socket the client under test opened, driven by the test as if it were the server. */
export interface FakeSocket extends ClientSocket {
  url: URL;
  events: SocketEvents;
  sent: Array<Record<string, unknown>>;
  closedWith: { code: number; reason: string } | null;
  aborted: boolean;
  /** Delivers a server frame. */
  frame(value: Record<string, unknown>): void;
  /** Delivers the welcome frame. */
  welcome(session: string, seq: number, extra?: Record<string, unknown>): void;
}

/** A socket factory that records every socket the client opens. */
export function fakeSockets(): {
  factory: (url: string, events: SocketEvents) => FakeSocket;
  opened: FakeSocket[];
} {
  const opened: FakeSocket[] = [];
  const factory = (url: string, events: SocketEvents): FakeSocket => {
    const socket: FakeSocket = {
      url: new URL(url),
      events,
      sent: [],
      closedWith: null,
      aborted: false,
      send(text) {
        this.sent.push(JSON.parse(text) as Record<string, unknown>);
      },
      close(code, reason) {
        this.closedWith = { code, reason };
      },
      abort() {
        this.aborted = true;
      },
      frame(value) {
        events.text(JSON.stringify(value));
      },
      welcome(session, seq, extra = {}) {
        events.opened();
        this.frame({ type: 'welcome', session, resumed: false, seq, heartbeatMs: 25_000, ...extra });
      },
    };
    opened.push(socket);
    return socket;
  };
  return { factory, opened };
}
