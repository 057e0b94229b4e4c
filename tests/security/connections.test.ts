/** Slow and greedy clients: half-sent requests, silent sockets, many sockets from one address. */
import { expect } from 'chai';
import net from 'node:net';
import { createLogger } from '../../src/log.js';
import { createServer } from '../../src/server.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { DEFAULT_CONNECTION_LIMITS, resolveConnectionLimits, type ConnectionLimits } from '../../src/security/connections.js';
import { listen } from '../helpers/http.js';

/** A socket to the server, with whether (and what) the server answered and whether it closed it. */
interface Probe {
  socket: net.Socket;
  received: string;
  closed: boolean;
}

function connect(port: number, first?: string, localAddress?: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const probe: Probe = { socket, received: '', closed: false };
    socket.on('data', (d) => (probe.received += d.toString('latin1')));
    socket.on('close', () => (probe.closed = true));
    socket.on('error', () => undefined); // a reset is one way of being closed
    socket.once('connect', () => {
      if (first) socket.write(first);
      resolve(probe);
    });
    socket.once('error', reject);
  });
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A plain GET on its own socket: the status line, or why there was none. */
async function get(port: number, path: string, localAddress?: string): Promise<string> {
  const p = await connect(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, localAddress);
  await until(() => p.closed, 5_000, `GET ${path} answered`);
  return p.received.split('\r\n')[0] || 'closed without an answer';
}

describe('HTTP server against slow and greedy clients', function () {
  this.timeout(60_000);
  let closeServer: (() => Promise<void>) | undefined;
  const opened: Probe[] = [];
  afterEach(async () => {
    for (const p of opened.splice(0)) p.socket.destroy();
    await closeServer?.();
    closeServer = undefined;
  });

  async function start(limits: Partial<ConnectionLimits>) {
    const server = createServer({ logger: createLogger('silent'), connections: limits });
    server.post('/read', async (req, res) => {
      for await (const _ of req);
      res.send(200, { ok: true });
    });
    const http = await listen(server);
    closeServer = () => {
      server.server.closeAllConnections();
      return http.close();
    };
    return http.port;
  }

  it('closes half-sent requests and silent sockets after the header timeout, and keeps answering', async () => {
    const port = await start({ headersTimeoutMs: 500, requestTimeoutMs: 2_000, maxConnectionsPerAddress: 0 });
    for (let i = 0; i < 300; i++) opened.push(await connect(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '));
    for (let i = 0; i < 100; i++) opened.push(await connect(port));
    expect(await get(port, '/healthz'), 'served while they hang').to.equal('HTTP/1.1 200 OK');
    await until(() => opened.every((p) => p.closed), 10_000, 'every stalled socket closed');
    expect(opened.slice(0, 300).every((p) => p.received.startsWith('HTTP/1.1 408')), 'half-sent requests are told 408').to.equal(true);
    expect(await get(port, '/healthz')).to.equal('HTTP/1.1 200 OK');
  });

  it('closes a request whose body never finishes after the request timeout', async () => {
    const port = await start({ headersTimeoutMs: 300, requestTimeoutMs: 800 });
    const p = await connect(port, 'POST /read HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":');
    opened.push(p);
    const drip = setInterval(() => p.socket.write(' '), 100); // bytes keep coming, the body never ends
    try {
      await until(() => p.closed, 10_000, 'the dripping request closed');
    } finally {
      clearInterval(drip);
    }
    expect(p.received).to.match(/^HTTP\/1\.1 408/);
  });

  it('refuses sockets past the per-address cap while another address is still served', async () => {
    const cap = 5;
    const port = await start({ maxConnectionsPerAddress: cap, headersTimeoutMs: 30_000, requestTimeoutMs: 30_000 });
    const greedy = '127.0.0.2';
    for (let i = 0; i < cap; i++) opened.push(await connect(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', greedy));
    const extra = await connect(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', greedy);
    opened.push(extra);
    await until(() => extra.closed, 5_000, 'the socket over the cap closed');
    expect(extra.received, 'closed without an answer').to.equal('');
    expect(opened.slice(0, cap).every((p) => !p.closed), 'the ones within the cap stay open').to.equal(true);
    expect(await get(port, '/healthz', '127.0.0.3'), 'another address').to.equal('HTTP/1.1 200 OK');
    // Once the greedy address closes its sockets it is served again.
    for (const p of opened.splice(0)) p.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(await get(port, '/healthz', greedy)).to.equal('HTTP/1.1 200 OK');
  });

  it('does not cap the host itself (a local proxy, probe or load test)', async () => {
    const port = await start({ maxConnectionsPerAddress: 2, headersTimeoutMs: 30_000, requestTimeoutMs: 30_000 });
    for (let i = 0; i < 5; i++) opened.push(await connect(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', '127.0.0.1'));
    expect(await get(port, '/healthz', '127.0.0.1')).to.equal('HTTP/1.1 200 OK');
    expect(opened.every((p) => !p.closed)).to.equal(true);
  });

  it('caps the sockets open in all', async () => {
    const port = await start({ maxConnections: 10, maxConnectionsPerAddress: 0, headersTimeoutMs: 30_000, requestTimeoutMs: 30_000 });
    for (let i = 0; i < 10; i++) opened.push(await connect(port, 'GET / HTTP/1.1\r\n', `127.0.0.${10 + i}`));
    expect(await get(port, '/healthz', '127.0.0.99')).to.equal('closed without an answer');
    for (const p of opened.splice(0)) p.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(await get(port, '/healthz', '127.0.0.99')).to.equal('HTTP/1.1 200 OK');
  });
});

describe('connection settings', () => {
  it('are read from the environment, in seconds, and validated', () => {
    const c = loadConfig({ HTTP_HEADERS_TIMEOUT_SECONDS: '5', HTTP_REQUEST_TIMEOUT_SECONDS: '20', HTTP_KEEP_ALIVE_SECONDS: '65', MAX_CONNECTIONS_PER_ADDRESS: '50', MAX_CONNECTIONS: '2000', MAX_CONCURRENT_TURNS: '8' });
    expect(c.connections).to.deep.equal({ headersTimeoutMs: 5_000, requestTimeoutMs: 20_000, keepAliveTimeoutMs: 65_000, maxConnectionsPerAddress: 50, maxConnections: 2000 });
    expect(c.maxConcurrentTurns).to.equal(8);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_SECONDS: '30', HTTP_REQUEST_TIMEOUT_SECONDS: '10' })).to.throw(ConfigError, /HTTP_REQUEST_TIMEOUT_SECONDS/);
    expect(() => loadConfig({ MAX_CONCURRENT_TURNS: '0' })).to.throw(ConfigError, /MAX_CONCURRENT_TURNS/);
    expect(() => loadConfig({ MAX_CONNECTIONS_PER_ADDRESS: 'many' })).to.throw(ConfigError, /MAX_CONNECTIONS_PER_ADDRESS/);
  });

  it('turn the per-address cap off behind a proxy unless it is set, since every socket is the proxy’s', () => {
    expect(resolveConnectionLimits({}, 0).maxConnectionsPerAddress).to.equal(DEFAULT_CONNECTION_LIMITS.maxConnectionsPerAddress);
    expect(resolveConnectionLimits({}, 1).maxConnectionsPerAddress).to.equal(0);
    expect(resolveConnectionLimits({ maxConnectionsPerAddress: 500 }, 1).maxConnectionsPerAddress).to.equal(500);
    expect(loadConfig({ MAX_CONNECTIONS_PER_ADDRESS: '' }).connections.maxConnectionsPerAddress, 'left empty as in .env.example: the default').to.equal(undefined);
    const fromEnv = loadConfig({ TRUST_PROXY: '1' });
    expect(resolveConnectionLimits(fromEnv.connections, fromEnv.trustProxy).maxConnectionsPerAddress).to.equal(0);
  });
});
