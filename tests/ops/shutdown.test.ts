/**
 * `npm start` stopped with SIGTERM while browsers are connected (an agent console's event stream, a web
 * chat WebSocket, an idle keep-alive connection): it closes them itself and exits cleanly, logging
 * "stopped" — it does not hang until the 10 s forced exit.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { WebSocket } from 'ws';
import { FileAgentAccounts } from '../../src/agent/accounts.js';
import { KNOWLEDGE_DIR } from '../faults/helpers.js';
import { startInstance, type Instance } from '../instances/helpers.js';

const PASSWORD = 'shutdown drill 7 violet lanterns';
const DIRECTLINE_SECRET = 'shutdown-test-directline-secret-0123456789';

/** Log lines (JSON) the instance wrote to stderr. */
const logLines = (inst: Instance) =>
  inst.stderr
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; level: string; [k: string]: unknown });

describe('SIGTERM with open connections', function () {
  this.timeout(90_000);
  let inst: Instance | undefined;
  afterEach(async () => {
    if (inst && inst.proc.exitCode === null && inst.proc.signalCode === null) await inst.kill();
    if (inst) await rm(inst.dataDir, { recursive: true, force: true });
    inst = undefined;
  });

  it('closes the console’s event stream, the web chat socket and keep-alive connections, then exits 0 with "stopped"', async () => {
    inst = await startInstance('shutdown', { KNOWLEDGE_DIR, LOG_LEVEL: 'info', BUSINESS_HOURS: 'Mon-Sun 00:00-24:00', BUSINESS_TIMEZONE: 'UTC', DIRECTLINE_SECRET });
    const accounts = await FileAgentAccounts.open(inst.dataDir);
    await accounts.add('ana', PASSWORD);

    // An agent console: signed in, its event stream open.
    const login = await fetch(`${inst.url}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ana', password: PASSWORD }) });
    expect(login.status).to.equal(200);
    const { token } = (await login.json()) as { token: string };
    const sse = await fetch(`${inst.url}/api/agent/events`, { headers: { authorization: `Bearer ${token}` } });
    expect(sse.status).to.equal(200);
    const reader = sse.body!.getReader();
    const hello = new TextDecoder().decode((await reader.read()).value);
    expect(hello).to.contain('event: hello');
    const sseEnded = (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {
        /* a reset also ends it */
      }
      return true;
    })();

    // A web chat customer with the WebSocket stream open.
    const gen = await fetch(`${inst.url}/v3/directline/tokens/generate`, { method: 'POST', headers: { authorization: `Bearer ${DIRECTLINE_SECRET}` } });
    expect(gen.status).to.equal(200);
    const dl = (await gen.json()) as { token: string };
    const conv = await fetch(`${inst.url}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${dl.token}` } });
    expect(conv.status).to.be.oneOf([200, 201]);
    const { conversationId, streamUrl } = (await conv.json()) as { conversationId: string; streamUrl: string };
    const ws = new WebSocket(streamUrl);
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

    // An idle keep-alive connection, as a browser leaves after loading a page.
    const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    const idle = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`${inst!.url}/healthz`, { agent }, resolve).on('error', reject));
    idle.resume();
    await new Promise((r) => idle.once('end', r));
    expect(Object.values(agent.freeSockets).flat()).to.have.length(1);

    // A customer's message accepted just before the signal is still answered.
    const posted = await fetch(`${inst.url}/v3/directline/conversations/${conversationId}/activities`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dl.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'message', from: { id: 'dl_customer' }, text: 'what are your opening hours' }),
    });
    expect(posted.status).to.equal(200);

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => inst!.proc.once('exit', (code, signal) => resolve({ code, signal })));
    // The server itself gets the signal (as from a process manager); npm then exits with its code.
    const server = inst.pids().filter((pid) => {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv[0]!.endsWith('node') && argv.includes('src/main.ts');
    });
    expect(server).to.have.length(1);
    process.kill(server[0]!, 'SIGTERM');
    const exit = await exited;

    // Not the forced exit (which is exit 1, after 10 s, with no "stopped" line).
    expect(exit).to.deep.equal({ code: 0, signal: null });
    const lines = logLines(inst);
    expect(lines.map((l) => l.msg)).to.include.members(['stopping', 'stopped']);
    expect(lines.filter((l) => l.level === 'error')).to.deep.equal([]);
    expect(await sseEnded).to.equal(true);
    expect(await wsClosed).to.equal(1001); // "going away": Web Chat reconnects to another instance
    agent.destroy();

    const log = (await readFile(path.join(inst.dataDir, 'webchat', `${conversationId}.jsonl`), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type?: string; text?: string; from?: { role?: string; id?: string } });
    const asked = log.findIndex((a) => a.text === 'what are your opening hours');
    expect(asked).to.be.greaterThan(-1);
    expect(log.slice(asked + 1).filter((a) => a.type === 'message' && a.from?.id !== 'dl_customer')).to.not.be.empty;
  });
});
