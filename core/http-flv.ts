/**
 * HTTP-FLV viewers. The response head goes through Node's ServerResponse; the body is written to
 * the socket directly with pre-framed chunks shared by every viewer of a cohort, so the per-viewer
 * cost of a flush is one socket write.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTP_LAST_CHUNK } from '../media/hub/output.ts';
import type { HubStream } from '../media/hub/stream.ts';
import type { Viewer, ViewerProtocol } from '../media/hub/viewer.ts';
import { CORS_HEADERS } from './http-util.ts';

export function serveFlv(
  req: IncomingMessage,
  res: ServerResponse,
  stream: HubStream,
  protocol: ViewerProtocol,
): Viewer | undefined {
  const chunked = req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1);
  const headers: Record<string, string> = {
    'Content-Type': 'video/x-flv',
    'Cache-Control': 'no-cache, no-store',
    Connection: 'close',
    ...CORS_HEADERS,
  };
  if (chunked) headers['Transfer-Encoding'] = 'chunked';
  if (req.method === 'HEAD') {
    res.writeHead(200, headers);
    res.end();
    return undefined;
  }
  res.writeHead(200, headers);
  res.flushHeaders();
  const socket = res.socket;
  if (!socket || socket.destroyed) return undefined;
  socket.setNoDelay(true);
  let open = true;
  const viewer = stream.addViewer(
    {
      write(buf) {
        if (open) socket.write(buf);
      },
      get bufferedBytes() {
        return socket.writableLength;
      },
      close(reason) {
        if (!open) return;
        open = false;
        if (reason === 'client-gone') return;
        if (chunked && !socket.destroyed) socket.write(HTTP_LAST_CHUNK);
        socket.end();
        setTimeout(() => socket.destroy(), 2000).unref();
      },
    },
    { format: chunked ? 'flv-chunked' : 'flv', protocol, remote: socket.remoteAddress },
  );
  socket.once('close', () => viewer.close('client-gone'));
  return viewer;
}
