/**
 * DATA_DIR holds customers' conversations, agents' password hashes and session tokens and the Direct
 * Line signing secret: only the server's own user may read it. Every file written is 0600 and every
 * folder 0700, and what an older version left 0644 / 0755 is tightened when the server starts.
 */
import { expect } from 'chai';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { FileAgentAccounts } from '../../src/agent/accounts.js';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { FakeGraph } from '../fakes/graph.js';
import { M_SECRET, PHONE_NUMBER_ID, W_SECRET, metaEnv } from '../faults/helpers.js';

const PASSWORD = 'private files 4 quiet harbours';

/** Every entry under `root` (relative path → octal mode), folders included, `root` itself as ".". */
async function modes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = { '.': ((await stat(root)).mode & 0o777).toString(8) };
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    const s = await stat(p).catch(() => undefined); // a temp file renamed meanwhile
    if (s) out[path.relative(root, p)] = (s.mode & 0o777).toString(8);
  }
  return out;
}

const notPrivate = (m: Record<string, string>, dirs: Set<string>) =>
  Object.entries(m).filter(([p, mode]) => mode !== (dirs.has(p) || p === '.' ? '700' : '600'));

async function folders(root: string): Promise<Set<string>> {
  const set = new Set<string>();
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isDirectory()) set.add(path.relative(root, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
  }
  return set;
}

describe('DATA_DIR file modes', function () {
  this.timeout(60_000);
  let graph: FakeGraph;
  let dataDir: string;
  let app: App | undefined;
  beforeEach(async () => {
    graph = new FakeGraph({ phoneNumberId: PHONE_NUMBER_ID, profiles: { '7777000022': { first_name: 'Maria', last_name: 'Rossi' } } });
    await graph.start();
    dataDir = await mkdtemp(path.join(tmpdir(), 'sb-modes-'));
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await graph.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    const config = loadConfig({ ...metaEnv(dataDir, graph.url), BUSINESS_HOURS: 'Mon-Sun 00:00-24:00', BUSINESS_TIMEZONE: 'UTC' });
    app = await buildApp({ config, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
    return app.listen(0, '127.0.0.1');
  };

  it('writes every file 0600 and every folder 0700 after a message on each channel, a handoff and an agent', async () => {
    const url = await start();
    await app!.accounts.add('ana', PASSWORD);
    const login = await fetch(`${url}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ana', password: PASSWORD }) });
    expect(login.status).to.equal(200);

    // Web chat, as the demo page does it (the Direct Line secret is generated and kept in DATA_DIR).
    const { token } = (await (await fetch(`${url}/api/webchat/token`, { method: 'POST' })).json()) as { token: string };
    const conv = (await (await fetch(`${url}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).json()) as { conversationId: string };
    const say = (text: string) =>
      fetch(`${url}/v3/directline/conversations/${conv.conversationId}/activities`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'message', from: { id: 'visitor' }, text }),
      });
    expect((await say('how do I pay my bill by card')).status).to.equal(200);
    expect((await say('I want to talk to a person')).status).to.equal(200);

    const m = serializeLikeMeta(messengerTextWebhook({ psid: '7777000022', text: 'How can I pay my bill by card?' }));
    expect((await fetch(`${url}/webhooks/messenger`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(m, M_SECRET) }, body: m })).status).to.equal(200);
    const w = serializeLikeMeta(whatsappTextWebhook({ waId: '4915112345678', name: 'Jürgen', text: 'How can I pay my bill by card?', phoneNumberId: PHONE_NUMBER_ID }));
    expect((await fetch(`${url}/webhooks/whatsapp`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(w, W_SECRET) }, body: w })).status).to.equal(200);
    await graph.waitFor((r) => r.api === 'messenger' && r.isMessage && r.status === 200);
    await graph.waitFor((r) => r.api === 'whatsapp' && r.isMessage && r.status === 200);
    await app!.close();
    app = undefined;

    const m0 = await modes(dataDir);
    const names = Object.keys(m0);
    // What the run wrote is all there: the walk below looks at real files, not an empty folder.
    for (const expected of ['agents.json', 'agent-sessions.json', 'directline-secret', 'messenger/journal.jsonl', 'whatsapp/journal.jsonl', 'webchat/inbox/journal.jsonl', `webchat/${conv.conversationId}.jsonl`])
      expect(names).to.include(expected);
    for (const folder of ['state/', 'transcripts/messenger/', 'transcripts/whatsapp/', 'transcripts/webchat/', 'handoff/conversations/']) expect(names.some((n) => n.startsWith(folder) && /\.jsonl?$/.test(n)), folder).to.equal(true);
    expect(notPrivate(m0, await folders(dataDir))).to.deep.equal([]);
  });

  it('tightens what an older version left world-readable when the server starts', async () => {
    await chmod(dataDir, 0o755);
    await mkdir(path.join(dataDir, 'webchat'), { mode: 0o755 });
    await chmod(path.join(dataDir, 'webchat'), 0o755);
    await writeFile(path.join(dataDir, 'webchat', 'dl_old.jsonl'), '{"type":"message","text":"my address is 1 Main St"}\n', { mode: 0o644 });
    const accounts = await FileAgentAccounts.open(dataDir);
    await accounts.add('ana', PASSWORD);
    await chmod(path.join(dataDir, 'agents.json'), 0o644);
    await writeFile(path.join(dataDir, 'directline-secret'), 'x'.repeat(40) + '\n', { mode: 0o644 });
    await chmod(path.join(dataDir, 'directline-secret'), 0o644);
    expect((await modes(dataDir))['agents.json']).to.equal('644');

    await start();
    await app!.close();
    app = undefined;
    const m = await modes(dataDir);
    expect(m).to.include({ '.': '700', webchat: '700', 'webchat/dl_old.jsonl': '600', 'agents.json': '600', 'directline-secret': '600' });
    expect(notPrivate(m, await folders(dataDir))).to.deep.equal([]);
  });

  it('creates the agents file of `npm run agents` private too', async () => {
    const accounts = await FileAgentAccounts.open(path.join(dataDir, 'fresh'));
    await accounts.add('ana', PASSWORD);
    expect(await modes(path.join(dataDir, 'fresh'))).to.deep.equal({ '.': '700', 'agents.json': '600' });
  });
});
