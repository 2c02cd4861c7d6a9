// The IPC side of a benchmark server: reports its port, and answers memory and count questions.
export function serveBenchControl(server, counts, extra = {}) {
  const { port } = server.address();
  process.on('message', (message) => {
    if (message.type === 'memory') {
      for (let i = 0; i < 3; i++) globalThis.gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      process.send({ type: 'memory', rss, heapUsed, ...counts() });
    } else if (message.type === 'samples') {
      process.send({ type: 'samples', ...(extra.samples?.() ?? {}) });
    } else if (message.type === 'exit') {
      process.exit(0);
    }
  });
  process.send({ type: 'ready', port });
}
