// The admin console's static files at /admin (built into dist/admin by `npm run build:admin`).
// No auth here: the files are public (and not API: kept out of /openapi.json), the page signs in
// with an org key and sends it on each API call. Hashed assets are cached for a year; index.html
// is revalidated so a new build shows up at once. Unknown paths without an extension get
// index.html (the console routes on the client).
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppDeps } from '../deps.js';
import { PUBLIC } from '../access.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

// esbuild's entryNames "[name]-[hash]": an 8-character base32 hash before the extension
const HASHED = /-[A-Z0-9]{8}\.(js|css|map|js\.map|css\.map)$/;

// 'self' covers same-origin ws:/wss: in current browsers, which the events socket needs; media
// are the calls' recordings and voicemail, played from the gateway's own signed links
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "media-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** dist/admin next to the compiled gateway (dist/src/...) or under the repo root (tsx). */
export function defaultAdminDir(): string {
  const up = fileURLToPath(new URL('../../../', import.meta.url));
  return basename(up) === 'dist' ? join(up, 'admin') : join(up, 'dist', 'admin');
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dialgate admin: not built</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5;color:#1a1a1a">
<h1>The admin console is not built</h1>
<p>This gateway has no built console files. Run <code>npm run build</code> (or <code>npm run build:admin</code>) and reload this page.</p>
</body></html>
`;

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

async function fileAt(path: string): Promise<Buffer | null> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return null;
    return await readFile(path);
  } catch {
    return null;
  }
}

export function adminRoutes(_deps: AppDeps, opts: { dir?: string } = {}) {
  const dir = resolve(opts.dir ?? process.env.DIALGATE_ADMIN_DIR ?? defaultAdminDir());
  return async (app: FastifyInstance) => {
    const sendIndex = async (reply: FastifyReply) => {
      securityHeaders(reply).header('cache-control', 'no-cache');
      const html = await fileAt(join(dir, 'index.html'));
      if (!html) return reply.code(503).header('retry-after', '60').type('text/html; charset=utf-8').send(NOT_BUILT);
      return reply.code(200).type(TYPES['.html']).send(html);
    };

    app.get('/admin', { schema: { hide: true }, logLevel: 'warn', config: PUBLIC }, async (_req, reply) => sendIndex(reply));

    app.get<{ Params: { '*': string } }>('/admin/*', { schema: { hide: true }, logLevel: 'warn', config: PUBLIC }, async (req, reply) => {
      // the router has already percent-decoded the wildcard; the containment check below is what
      // keeps "../" (in any encoding) inside the console's folder
      const rel = req.params['*'] ?? '';
      // client-side routes (/admin/users, /admin/installed/prv_x) have no extension
      if (rel === '' || extname(rel) === '') return sendIndex(reply);
      const full = resolve(dir, rel);
      if (rel.includes('\0') || !full.startsWith(dir + sep)) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
      const body = await fileAt(full);
      if (!body) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
      securityHeaders(reply);
      reply.header('cache-control', HASHED.test(rel) ? 'public, max-age=31536000, immutable' : 'no-cache');
      return reply.code(200).type(TYPES[extname(rel).toLowerCase()] ?? 'application/octet-stream').send(body);
    });
  };
}
