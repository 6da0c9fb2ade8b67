// The ceiling baseline for HTTP responders: a minimal node:http server answering every request
// with one fixed body (POST bodies are read first). Usage: node fixed-server.mjs PORT BODY_FILE
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [port, file] = process.argv.slice(2);
const body = readFileSync(file);
const headers = { 'Content-Type': 'application/ocsp-response', 'Content-Length': String(body.length) };
createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
})
  .listen(Number(port), '127.0.0.1', () => console.log(`listening ${port}`));
