#!/usr/bin/node
// node_legacy.js - a "legacy" Node.js HTTP server for linger's integration tests.
//
// A POST announcing a body over --limit bytes is answered 413 with
// "Connection: close" and the socket is then ended/destroyed while the client
// is still sending, the way many Node services reject oversized uploads. The
// client usually sees a reset instead of the 413. Bodies within the limit are
// read and answered 200 with the byte count; keep-alive works.
//
// Usage: node node_legacy.js --port N [--port-file PATH] [--limit BYTES]
//                            [--unix PATH] [--reject end|destroy] [--delay-ms N]
//   --reject end      res.end() and let Node close the connection (default)
//   --reject destroy  res.end(), then req.socket.destroy() once written
'use strict';
const http = require('http');
const fs = require('fs');

const opt = { port: null, portFile: null, limit: 65536, unix: null, reject: 'end', delayMs: 0 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i], v = argv[i + 1];
  if (v === undefined) { console.error('missing value for ' + k); process.exit(2); }
  if (k === '--port') opt.port = Number(v);
  else if (k === '--port-file') opt.portFile = v;
  else if (k === '--limit') opt.limit = Number(v);
  else if (k === '--unix') opt.unix = v;
  else if (k === '--reject') opt.reject = v;
  else if (k === '--delay-ms') opt.delayMs = Number(v);
  else { console.error('unknown option ' + k); process.exit(2); }
}
if ((opt.port === null) === (opt.unix === null)) {
  console.error('usage: node_legacy.js (--port N | --unix PATH) [--port-file PATH] [--limit BYTES] [--reject end|destroy]');
  process.exit(2);
}

function reply(res, code, text, close) {
  const headers = { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) };
  if (close) headers['Connection'] = 'close';
  res.writeHead(code, headers);
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    reply(res, 200, req.url === '/stats' ? `pid=${process.pid}\n` : 'received 0 bytes\n', false);
    return;
  }
  const length = Number(req.headers['content-length'] || 0);
  if (length > opt.limit) {
    const reject = () => {
      // The bug under test: answer early, never read the body, close.
      reply(res, 413, 'request body too large\n', true);
      if (opt.reject === 'destroy') {
        res.on('finish', () => req.socket.destroy());
      }
    };
    if (opt.delayMs > 0) setTimeout(reject, opt.delayMs); else reject();
    return;
  }
  let got = 0;
  req.on('data', (chunk) => { got += chunk.length; });
  req.on('end', () => reply(res, 200, `received ${got} bytes\n`, false));
});
server.keepAliveTimeout = 30000;

function listening() {
  if (opt.portFile) {
    const port = opt.unix ? 0 : server.address().port;
    const tmp = `${opt.portFile}.tmp.${process.pid}`;
    fs.writeFileSync(tmp, `${port}\n`);
    fs.renameSync(tmp, opt.portFile);
  }
}
if (opt.unix) {
  try { fs.unlinkSync(opt.unix); } catch (e) { /* not there */ }
  server.listen(opt.unix, listening);
} else {
  server.listen(opt.port, '127.0.0.1', listening);
}
const stop = () => { server.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
