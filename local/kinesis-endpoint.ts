/**
 * kinesalite behind one port that speaks both HTTP/1.1 and cleartext HTTP/2. kinesalite itself
 * only speaks HTTP/1.1, while the AWS SDK for JavaScript's Kinesis client defaults to HTTP/2, so a
 * producer built with a plain `new KinesisClient({ endpoint })` would fail with "Protocol error".
 * Each connection is routed by its first bytes: the HTTP/2 connection preface goes to an HTTP/2
 * server running kinesalite's own request handler, anything else to kinesalite directly.
 */
import http2 from 'node:http2';
import type { AddressInfo, Server, Socket } from 'node:net';
import net from 'node:net';
import kinesalite from 'kinesalite';

const HTTP2_PREFACE = 'PRI * HTTP/2.0';

export interface KinesisEndpoint {
  readonly url: string;
  close(): Promise<void>;
}

const listen = (server: Server | http2.Http2Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

export async function startKinesisEndpoint(): Promise<KinesisEndpoint> {
  const http1: Server = kinesalite({
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 1000,
  });
  const handler = http1.listeners('request')[0] as (req: unknown, res: unknown) => void;
  const h2 = http2.createServer({}, handler as never);
  const h2Port = await listen(h2);
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const front = net.createServer((socket) => {
    track(socket);
    socket.once('data', (chunk: Buffer) => {
      if (chunk.subarray(0, HTTP2_PREFACE.length).toString('latin1') === HTTP2_PREFACE) {
        // HTTP/2 reads from the native handle, so bytes cannot be pushed back: relay instead.
        const upstream = net.connect(h2Port, '127.0.0.1');
        track(upstream);
        upstream.write(chunk);
        socket.pipe(upstream).pipe(socket);
        socket.once('error', () => upstream.destroy());
        upstream.once('error', () => socket.destroy());
      } else {
        socket.pause();
        socket.unshift(chunk);
        http1.emit('connection', socket);
        socket.resume();
      }
    });
  });
  const port = await listen(front);
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((r) => front.close(() => r())),
        new Promise<void>((r) => h2.close(() => r())),
      ]);
    },
  };
}
