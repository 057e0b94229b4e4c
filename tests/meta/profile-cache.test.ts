/**
 * The Messenger customer's name comes from the User Profile API once per lifetime, not once per message:
 * kept in memory (bounded), and with its fetch time in the channel's journal so a restart or another
 * instance does not ask again.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Activity } from 'botbuilder';
import { createServer } from '../../src/server.js';
import { silentLogger } from '../../src/log.js';
import { fixedClock } from '../../src/clock.js';
import { FileChannelJournal } from '../../src/engine/file-journal.js';
import { PgChannelJournal } from '../../src/storage/postgres/channel-journal.js';
import type { ChannelJournal } from '../../src/engine/inbox.js';
import { MessengerAdapter, MESSENGER_PROFILE_TTL_MS } from '../../adapters/messenger/messenger-adapter.js';
import { messengerTextWebhook, serializeLikeMeta } from '../../adapters/shared/sample-events.js';
import { signBody } from '../../adapters/shared/verify.js';
import { FakeGraph } from '../fakes/graph.js';
import { listen } from '../helpers/http.js';
import { usePostgres } from '../helpers/postgres.js';
import { APP_SECRET, VERIFY_TOKEN } from './helpers.js';

const ANA = '5550001111';
const NOBODY = '5550009999';
const HOUR = 3600 * 1000;

/** One Messenger "instance": an adapter on `journal`, behind a real server on port 0. */
async function instance(graph: FakeGraph, clock: ReturnType<typeof fixedClock>, journal: ChannelJournal, o: { profileCacheSize?: number } = {}) {
  const turns: Partial<Activity>[] = [];
  const adapter = new MessengerAdapter({
    graphApiUrl: graph.url,
    journal,
    clock,
    logger: silentLogger,
    markAsRead: false,
    sleep: async () => undefined,
    messenger: { appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN, pageAccessToken: 'page-token' },
    ...o,
  });
  const server = createServer({ logger: silentLogger });
  adapter.mount(server, async (ctx) => void turns.push(ctx.activity));
  await adapter.start();
  const http = await listen(server);
  let n = 0;
  return {
    turns,
    adapter,
    /** Posts a signed text message from `psid` and waits for its turn. */
    async message(psid: string, text = 'hello') {
      const raw = serializeLikeMeta(messengerTextWebhook({ psid, text, mid: `mid.${psid}.${clock.now().getTime()}.${++n}`, timestamp: clock.now().getTime() }));
      const res = await fetch(`${http.url}/webhooks/messenger`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, APP_SECRET) }, body: raw });
      expect(res.status).to.equal(200);
      await adapter.whenIdle();
      return turns.at(-1)!;
    },
    async close() {
      await adapter.close();
      await http.close();
    },
  };
}

const lookups = (graph: FakeGraph, psid: string) => graph.requests.filter((r) => r.api === 'profile' && r.path.endsWith(`/${psid}`)).length;

describe('Messenger profile names', function () {
  let graph: FakeGraph;
  let dir: string;
  let clock: ReturnType<typeof fixedClock>;
  beforeEach(async () => {
    graph = new FakeGraph({ profiles: { [ANA]: { first_name: 'Ana', last_name: 'Silva' } } });
    await graph.start();
    dir = await mkdtemp(join(tmpdir(), 'sb-profiles-'));
    clock = fixedClock('2026-12-01T10:00:00Z');
  });
  afterEach(async () => {
    await graph.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fetches a customer’s profile once for two messages, and again after the lifetime', async () => {
    const m = await instance(graph, clock, new FileChannelJournal(dir, () => clock.now().getTime()));
    try {
      expect((await m.message(ANA, 'hi')).from?.name).to.equal('Ana Silva');
      clock.advance(HOUR);
      expect((await m.message(ANA, 'are you there')).from?.name).to.equal('Ana Silva');
      expect(lookups(graph, ANA)).to.equal(1);

      clock.advance(MESSENGER_PROFILE_TTL_MS);
      graph.options.profiles[ANA] = { first_name: 'Ana', last_name: 'Costa' };
      expect((await m.message(ANA, 'me again')).from?.name).to.equal('Ana Costa');
      expect(lookups(graph, ANA)).to.equal(2);
    } finally {
      await m.close();
    }
  });

  it('keeps the fetch time on disk: a restarted server within the lifetime does not ask again', async () => {
    const journal = () => new FileChannelJournal(dir, () => clock.now().getTime());
    const first = await instance(graph, clock, journal());
    await first.message(ANA);
    await first.close();

    clock.advance(MESSENGER_PROFILE_TTL_MS - HOUR);
    const second = await instance(graph, clock, journal());
    try {
      expect((await second.message(ANA)).from?.name).to.equal('Ana Silva');
      expect(lookups(graph, ANA)).to.equal(1);
      clock.advance(2 * HOUR);
      await second.message(ANA);
      expect(lookups(graph, ANA)).to.equal(2);
    } finally {
      await second.close();
    }
  });

  it('refreshes a name kept by an older version (no fetch time) once, then keeps it', async () => {
    await writeFile(join(dir, 'journal.jsonl'), `${JSON.stringify({ t: 'profile', conv: ANA, name: 'Ana S.' })}\n`);
    const m = await instance(graph, clock, new FileChannelJournal(dir, () => clock.now().getTime()));
    try {
      expect((await m.message(ANA)).from?.name).to.equal('Ana Silva');
      await m.message(ANA);
      expect(lookups(graph, ANA)).to.equal(1);
    } finally {
      await m.close();
    }
  });

  it('asks about a profile it cannot read once an hour, not on every message', async () => {
    const m = await instance(graph, clock, new FileChannelJournal(dir, () => clock.now().getTime()));
    try {
      for (let i = 0; i < 3; i++) expect((await m.message(NOBODY)).from?.name || undefined).to.equal(undefined);
      expect(lookups(graph, NOBODY)).to.equal(1);
      clock.advance(HOUR + 1);
      await m.message(NOBODY);
      expect(lookups(graph, NOBODY)).to.equal(2);
    } finally {
      await m.close();
    }
  });

  it('keeps the name shown when a refresh fails after the lifetime', async () => {
    const m = await instance(graph, clock, new FileChannelJournal(dir, () => clock.now().getTime()));
    try {
      await m.message(ANA);
      clock.advance(MESSENGER_PROFILE_TTL_MS + 1);
      delete graph.options.profiles[ANA];
      expect((await m.message(ANA)).from?.name).to.equal('Ana Silva');
      expect(lookups(graph, ANA)).to.equal(2);
      await m.message(ANA);
      expect(lookups(graph, ANA)).to.equal(2);
    } finally {
      await m.close();
    }
  });

  it('holds a bounded number of profiles in memory and reads the others back from the journal', async () => {
    const many = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`77700${i}`, { first_name: `P${i}`, last_name: 'X' }]));
    Object.assign(graph.options.profiles, many);
    const m = await instance(graph, clock, new FileChannelJournal(dir, () => clock.now().getTime()), { profileCacheSize: 2 });
    try {
      for (const psid of Object.keys(many)) await m.message(psid);
      for (const psid of Object.keys(many)) expect((await m.message(psid)).from?.name).to.equal(many[psid]!.first_name + ' X');
      for (const psid of Object.keys(many)) expect(lookups(graph, psid)).to.equal(1);
      expect((m.adapter as unknown as { profiles: Map<string, unknown> }).profiles.size).to.equal(2);
    } finally {
      await m.close();
    }
  });

  describe('on PostgreSQL', function () {
    const pg = usePostgres();

    it('one instance’s fetch serves the others within the lifetime', async () => {
      const journal = (instanceId: string) => new PgChannelJournal(pg.db, { channelId: 'messenger', instanceId, now: () => clock.now().getTime() });
      const a = await instance(graph, clock, journal('a'));
      const b = await instance(graph, clock, journal('b'));
      try {
        expect((await a.message(ANA)).from?.name).to.equal('Ana Silva');
        clock.advance(HOUR);
        expect((await b.message(ANA)).from?.name).to.equal('Ana Silva');
        expect(lookups(graph, ANA)).to.equal(1);
        clock.advance(MESSENGER_PROFILE_TTL_MS);
        await b.message(ANA);
        expect(lookups(graph, ANA)).to.equal(2);
        expect(await journal('c').profile(ANA)).to.deep.equal({ name: 'Ana Silva', at: clock.now().getTime() });
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});
