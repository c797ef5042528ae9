// A stand-in for the image ikubernetes/myapp:v1 (nginx serving two pages), which the seed's
// Deployment names and which cannot be pulled here: the same answers on port 80.
//   /               Hello MyApp | Version: v1 | <a href="hostname.html">Pod Name</a>
//   /hostname.html  the Pod's name (its hostname)
import http from 'node:http';
import { Buffer } from 'node:buffer';
import os from 'node:os';

const index = 'Hello MyApp | Version: v1 | <a href="hostname.html">Pod Name</a>\n';

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  const [status, body] =
    path === '/' || path === '/index.html'
      ? [200, index]
      : path === '/hostname.html'
        ? [200, `${os.hostname()}\n`]
        : [404, '404 Not Found\n'];
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(80);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
