/**
 * Servers without sockets. A fake socket is one end of an in-memory Duplex pair dressed as a
 * net.Socket (remote address, no-op socket options), so the real request handling of an
 * http.Server or an RtmpSession runs unchanged: `server.emit('connection', fake)` is exactly what
 * net.Server does for a TCP connection. Used by unit tests; nothing here listens on a port.
 */
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import type { Socket } from 'node:net';
import { type Duplex, duplexPair } from 'node:stream';
import { Agent } from 'undici';

export interface FakeSocketOptions {
  remoteAddress?: string;
  remotePort?: number;
}

function dress(side: Duplex, remoteAddress: string, remotePort: number): Socket {
  const s = side as Duplex & Record<string, unknown>;
  Object.assign(s, {
    remoteAddress,
    remotePort,
    remoteFamily: remoteAddress.includes(':') ? 'IPv6' : 'IPv4',
    localAddress: '127.0.0.1',
    localPort: 0,
    setNoDelay: () => s,
    setKeepAlive: () => s,
    setTimeout: () => s,
    ref: () => s,
    unref: () => s,
  });
  return s as unknown as Socket;
}

/** [client end, server end]: bytes written to one are read from the other. */
export function fakeSocketPair(options: FakeSocketOptions = {}): [client: Socket, server: Socket] {
  const [a, b] = duplexPair();
  const remoteAddress = options.remoteAddress ?? '127.0.0.1';
  const remotePort = options.remotePort ?? 40000 + Math.floor(Math.random() * 20000);
  // As TCP with allowHalfOpen off (net.Socket's default): a side whose peer ended ends too, and a
  // side that is destroyed ends its peer's reading (the FIN/RST the peer would get).
  for (const [self, peer] of [
    [a, b],
    [b, a],
  ] as const) {
    self.on('end', () => {
      if (!self.writableEnded) self.end();
    });
    self.on('close', () => {
      if (!peer.destroyed) setImmediate(() => peer.destroy());
    });
    self.on('error', () => {});
  }
  return [dress(a, '127.0.0.1', 0), dress(b, remoteAddress, remotePort)];
}

export interface InjectRequest {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  remoteAddress?: string;
}

export interface InjectResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response stream itself (for endless bodies such as HTTP-FLV). */
  res: IncomingMessage;
  /** Reads the whole body (only for bodies that end). */
  text(): Promise<string>;
  json(): Promise<unknown>;
  /** Closes the fake connection from the client side. */
  close(): void;
}

/**
 * Sends one request into `server` over a fake socket (the server never listens) and resolves with
 * the response head; the body is read from `res`, `text()` or `json()`.
 */
export function inject(server: Server, req: InjectRequest): Promise<InjectResponse> {
  const [client, serverSide] = fakeSocketPair(
    req.remoteAddress !== undefined ? { remoteAddress: req.remoteAddress } : {},
  );
  server.emit('connection', serverSide);
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      {
        method: req.method ?? 'GET',
        path: req.url,
        headers: { host: '127.0.0.1', ...req.headers },
        createConnection: () => client,
      },
      (res) => {
        const text = async () => {
          const parts: Buffer[] = [];
          for await (const c of res) parts.push(c as Buffer);
          return Buffer.concat(parts).toString('utf8');
        };
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          res,
          text,
          json: async () => JSON.parse(await text()) as unknown,
          close: () => {
            res.destroy();
            client.destroy();
          },
        });
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/**
 * An undici dispatcher whose connections go to in-memory http.Servers instead of the network:
 * `servers(origin)` gets 'http://host:port' and returns the server to connect to, or undefined
 * for a refused connection (an origin that is down).
 */
export function inMemoryAgent(servers: (origin: string) => Server | undefined): Agent {
  return new Agent({
    connect: (opts, callback) => {
      // Asynchronously, as a TCP connect is: undici ignores a connection made within its own call.
      process.nextTick(() => {
        const origin = `${opts.protocol}//${opts.hostname}:${opts.port}`;
        const server = servers(origin);
        if (!server) {
          callback(
            Object.assign(new Error(`connect ECONNREFUSED ${origin}`), { code: 'ECONNREFUSED' }),
            null,
          );
          return;
        }
        const [client, serverSide] = fakeSocketPair();
        server.emit('connection', serverSide);
        callback(null, client);
      });
    },
  });
}
