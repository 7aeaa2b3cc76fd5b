import { connect, createServer, type Socket } from 'node:net';

export interface ThrottledProxy {
  port: number;
  close(): Promise<void>;
}

/**
 * A loopback TCP relay to `targetPort` that passes what clients send at `bytesPerSecond` (the
 * answers at full speed): an upload from a client that cannot be slowed itself, such as the
 * SDK reading a file, arrives as over a slow network.
 */
export async function startThrottledProxy(
  targetPort: number,
  bytesPerSecond: number,
): Promise<ThrottledProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      client.pause();
      upstream.write(chunk);
      setTimeout(() => client.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    client.on('end', () => upstream.end());
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
