// The dashboard's files: a fixed table of paths (no path is ever joined from a request, so
// there is nothing to traverse), read once and served with a strict Content-Security-Policy.
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';

export const WEB_DIR = path.join(__dirname, '..', '..', '..', 'web');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

function uplotDir(): string {
  try {
    return path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  } catch {
    return path.join(__dirname, '..', '..', '..', 'node_modules', 'uplot', 'dist');
  }
}

/** URL path → file on disk: the dashboard's files (web/ and web/views/, listed once at start) and uPlot. */
export function staticFiles(): Map<string, string> {
  const vendor = uplotDir();
  const files = new Map<string, string>([
    ['/', path.join(WEB_DIR, 'index.html')],
    ['/favicon.ico', path.join(WEB_DIR, 'favicon.svg')],
    ['/vendor/uPlot.iife.min.js', path.join(vendor, 'uPlot.iife.min.js')],
    ['/vendor/uPlot.min.css', path.join(vendor, 'uPlot.min.css')],
  ]);
  for (const dir of ['', 'views']) {
    let names: string[] = [];
    try { names = fs.readdirSync(path.join(WEB_DIR, dir)); } catch { /* no views */ }
    for (const name of names) {
      if (TYPES[path.extname(name)]) files.set(`/${dir ? `${dir}/` : ''}${name}`, path.join(WEB_DIR, dir, name));
    }
  }
  return files;
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, head: boolean): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

/** A request handler for the table above; files are read on first use and kept. */
export function staticHandler(files = staticFiles()): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const cache = new Map<string, Buffer>();
  return (req, res) => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', head);
    }
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    const file = files.get(pathname);
    if (!file) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
    let body = cache.get(file);
    if (!body) {
      try {
        body = fs.readFileSync(file);
      } catch {
        return send(res, 404, 'text/plain; charset=utf-8', `missing ${path.basename(file)}\n`, head);
      }
      cache.set(file, body);
    }
    send(res, 200, TYPES[path.extname(file)] ?? 'application/octet-stream', body, head);
  };
}
