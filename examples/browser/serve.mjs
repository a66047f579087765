// A tiny static server for the console: `/` from this folder, `/pkg/…` from
// the built package. Usage: node examples/browser/serve.mjs [port]
import { createServer } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { join, dirname, normalize, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

/** Serves `/`, `/console.{js,css}` and `/pkg/{dist,wasm}/…`; nothing else. */
export function handle(req, res) {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  let file;
  if (path.startsWith('/pkg/dist/') || path.startsWith('/pkg/wasm/')) file = join(root, path);
  else if (path === '/' || path === '/index.html') file = join(here, 'index.html');
  else if (/^\/console\.(js|css)$/.test(path)) file = join(here, path);
  if (!file || path.includes('..') || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
    res.writeHead(404).end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  res.end(readFileSync(file));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 8000);
  createServer(handle).listen(port, '127.0.0.1', () => {
    console.log(`SQL console on http://127.0.0.1:${port}/?proxy=ws://127.0.0.1:8080/v1`);
  });
}
