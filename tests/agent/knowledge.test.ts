/**
 * The console's knowledge view over HTTP: `GET /api/agent/knowledge` on the whole app (buildApp) with a
 * copy of the sample knowledge in a temp dir that the server watches, customers on web chat (Direct
 * Line, through botframework-directlinejs), and the event stream a console listens to.
 */
import { expect } from 'chai';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { WebChatAdapter } from '../../adapters/webchat/index.js';
import { connect } from '../webchat/client.js';
import { KNOWLEDGE_DIR, until } from '../faults/helpers.js';
import { BROKEN_EDIT, openEventStream, PASSWORD, type EventStream } from './helpers.js';

describe('agent API: the knowledge view', function () {
  this.timeout(60_000);
  let dataDir: string;
  let knowledgeDir: string;
  let app: App;
  let url: string;
  let token: string;
  const open: { close(): void }[] = [];

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-kb-view-data-'));
    knowledgeDir = await mkdtemp(join(tmpdir(), 'switchboard-kb-view-knowledge-'));
    await cp(KNOWLEDGE_DIR, knowledgeDir, { recursive: true });
    const config = loadConfig({ DATA_DIR: dataDir, KNOWLEDGE_DIR: knowledgeDir, DIRECTLINE_SECRET: 'kb-view-directline-secret-0123456789abcdef' });
    app = await buildApp({ config, logger: silentLogger, watchKnowledge: true });
    url = await app.listen(0, '127.0.0.1');
    await app.accounts.add('ada', PASSWORD, { displayName: 'Ada' });
    const login = await fetch(`${url}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ada', password: PASSWORD }) });
    token = ((await login.json()) as { token: string }).token;
  });
  afterEach(async () => {
    open.splice(0).forEach((c) => c.close());
    await app?.close();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    await rm(knowledgeDir, { recursive: true, force: true, maxRetries: 5 });
  });

  async function get(path: string, withToken = true): Promise<{ status: number; body: any }> {
    const res = await fetch(url + path, { headers: withToken ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: await res.json() };
  }

  /** A web chat customer of their own who writes `texts`, one after another. */
  async function customer(...texts: string[]): Promise<void> {
    const client = connect({ domain: `${url}/v3/directline`, token: (app.adapters.webchat as unknown as WebChatAdapter).generateToken().token });
    open.push(client);
    for (const text of texts) await client.post({ text });
  }

  async function events(): Promise<EventStream> {
    const stream = await openEventStream(url, token);
    open.push(stream);
    await stream.until('event: hello');
    return stream;
  }

  it("shows the serving knowledge's entries, files, load time and that it follows edits", async () => {
    const r = await get('/api/agent/knowledge');
    expect(r.status).to.equal(200);
    const { entries, files } = app.knowledge.status();
    expect(entries).to.be.at.least(40);
    expect(r.body.status).to.include({ entries, files, watching: true });
    expect(Date.parse(r.body.status.loadedAt)).to.be.closeTo(Date.now(), 60_000);
    expect(r.body.status.lastReloadMs).to.be.a('number');
    expect(r.body.status).to.not.have.property('lastError');
    expect(r.body.gaps).to.include({ days: 30, asked: 0 });
    expect(r.body.gaps.unanswered).to.deep.equal([]);
    expect(r.body.gaps.unhelpful).to.deep.equal([]);
  });

  it('lists what customers asked that the knowledge did not answer, most asked first, and the answers that did not help', async () => {
    await customer('Who won the football match yesterday?');
    await customer('What is the weather in Paris tomorrow?');
    await customer('what is the WEATHER in paris  tomorrow?');
    await customer('How can I pay my bill?', 'no');

    let gaps: any;
    await until(async () => {
      gaps = (await get('/api/agent/knowledge')).body.gaps;
      return gaps.asked === 3 && gaps.unhelpful.length === 1;
    }, 20_000, 'three unanswered questions and one unhelpful answer');
    // One wording of the two that differ only in case and spacing stands for both.
    expect(gaps.unanswered.map((g: any) => [g.query.toLowerCase().replace(/\s+/g, ' '), g.count, g.channels])).to.deep.equal([
      ['what is the weather in paris tomorrow?', 2, ['webchat']],
      ['who won the football match yesterday?', 1, ['webchat']],
    ]);
    expect(Date.parse(gaps.unanswered[0].lastAt)).to.be.closeTo(Date.now(), 60_000);
    expect(gaps.unhelpful).to.have.length(1);
    expect(gaps.unhelpful[0]).to.include({ entryId: 'billing/pay-bill', question: 'How can I pay my bill?', notHelpful: 1, helpful: 0 });

    // The same report as `npm run kb -- gaps --days 7`, for a shorter period.
    const week = await get('/api/agent/knowledge?days=7');
    expect(week.body.gaps).to.include({ days: 7, asked: 3 });
  });

  it('shows a broken edit live: the problems as path:line, when, and the version still served; then the fix', async () => {
    const stream = await events();
    const before = (await get('/api/agent/knowledge')).body.status;

    const original = await readFile(join(knowledgeDir, BROKEN_EDIT.path), 'utf8');
    await writeFile(join(knowledgeDir, BROKEN_EDIT.path), BROKEN_EDIT.text);
    await stream.until(JSON.stringify(BROKEN_EDIT.problem)); // as the event's JSON data has it
    expect(stream.text()).to.include('event: knowledge').and.include('"change":"rejected"');

    const rejected = (await get('/api/agent/knowledge')).body.status;
    expect(rejected.problems).to.deep.equal([BROKEN_EDIT.problem]);
    expect(rejected).to.include({ problemCount: 1, entries: before.entries, loadedAt: before.loadedAt });
    expect(rejected.lastError).to.include(BROKEN_EDIT.problem);
    expect(Date.parse(rejected.lastErrorAt)).to.be.at.least(Date.parse(before.loadedAt));
    const health = await (await fetch(`${url}/healthz`)).text();
    expect(health, '/healthz says the same').to.include(JSON.stringify(BROKEN_EDIT.problem));

    await writeFile(join(knowledgeDir, BROKEN_EDIT.path), original);
    await stream.until('"change":"reloaded"');
    const fixed = (await get('/api/agent/knowledge')).body.status;
    expect(fixed).to.not.have.property('lastError');
    expect(fixed).to.not.have.property('problems');
    expect(fixed.loadedAt > before.loadedAt).to.equal(true);
  });

  it('answers 401 without a session and 400 JSON for a bad days value', async () => {
    for (const path of ['/api/agent/knowledge', '/api/agent/knowledge?days=7', '/api/agent/knowledge/search?q=pay']) {
      const r = await get(path, false);
      expect(r.status, path).to.equal(401);
      expect(r.body.code).to.equal('Unauthorized');
    }
    for (const query of ['days=0', 'days=-1', 'days=week', 'days=1.5', 'days=3651', 'days=99999999999', 'days=', 'days=1&days=2', 'days[]=7']) {
      const r = await get(`/api/agent/knowledge?${query}`);
      expect(r.status, query).to.equal(400);
      expect(r.body.code).to.equal('BadRequest');
      expect(r.body.message, query).to.match(/^agent API knowledge: days: /);
    }
  });
});
