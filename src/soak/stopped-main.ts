/**
 * Entry of a process whose sockets the soak freezes with SIGSTOP. It opens its connections, says
 * `ready`, and is then stopped by the orchestrator: to the server it is a peer whose kernel still
 * holds the TCP connection while nothing above it answers, the half-open case of real incidents.
 */
import { WebSocket } from 'ws';
import { SUBPROTOCOL } from '../protocol.js';

/** The one message this process takes. */
export interface StoppedCommand {
  urls: string[];
  localAddress: string;
}

process.once('message', (command: StoppedCommand) => {
  let welcomed = 0;
  let failed = 0;
  const sockets: WebSocket[] = [];
  const settle = () => {
    if (welcomed + failed === command.urls.length) process.send?.({ type: 'ready', welcomed, failed });
  };
  for (const url of command.urls) {
    const ws = new WebSocket(url, SUBPROTOCOL, {
      localAddress: command.localAddress,
      perMessageDeflate: false,
    });
    sockets.push(ws);
    let counted = false;
    ws.on('message', () => {
      if (counted) return;
      counted = true;
      welcomed++;
      settle();
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (counted) return;
      counted = true;
      failed++;
      settle();
    });
  }
});
// Frozen or not, a peer process must not outlive the soak that started it.
process.on('disconnect', () => process.exit(0));
