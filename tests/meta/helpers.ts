/** Test rig for the Meta channels: a real restify server on port 0, the fake Graph API, a temp DATA_DIR. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageFactory, type Activity, type TurnContext } from 'botbuilder';
import { createServer } from '../../src/server.js';
import { silentLogger } from '../../src/log.js';
import { fixedClock } from '../../src/clock.js';
import { listen } from '../helpers/http.js';
import { FakeGraph } from '../fakes/graph.js';
import { MessengerAdapter } from '../../adapters/messenger/index.js';
import { WhatsAppAdapter } from '../../adapters/whatsapp/index.js';
import { signBody } from '../../adapters/shared/verify.js';
import { serializeLikeMeta } from '../../adapters/shared/sample-events.js';
import type { BotLogic } from '../../src/engine/channel.js';

/** Secrets and ids shared by the rig, the fixtures and the assertions. */
export const APP_SECRET = 'test-app-secret';
export const VERIFY_TOKEN = 'test-verify-token';
export const PHONE_NUMBER_ID = '106540352242922';
export const PSID = '1254477777772919';
export const WA_ID = '16505551234';

const fixturesDir = join(fileURLToPath(import.meta.url), '..', '..', 'fixtures');

/** A fixture as raw bytes, serialised the way Meta does (non-ASCII escaped). */
export async function fixture(name: string): Promise<string> {
  return serializeLikeMeta(JSON.parse(await readFile(join(fixturesDir, name), 'utf8')));
}

/**
 * A bot for these tests: `choose N` answers with N long-titled suggestions (imBack {title, value: opt-i}),
 * `short N` with N short-titled ones,
 * `long N` with N characters of sentences, anything else is echoed. Every turn is recorded.
 */
export function testBot(turns: Partial<Activity>[]): BotLogic {
  return async (ctx: TurnContext) => {
    turns.push(ctx.activity);
    const text = ctx.activity.text ?? '';
    const choose = /^choose (\d+)$/.exec(text);
    const short = /^short (\d+)$/.exec(text);
    if (short) {
      const actions = Array.from({ length: Number(short[1]) }, (_, i) => ({ type: 'imBack', title: `Option ${i + 1}`, value: `opt-${i + 1}` }));
      await ctx.sendActivity(MessageFactory.suggestedActions(actions, 'Pick **one**:'));
      return;
    }
    const long = /^long (\d+)$/.exec(text);
    if (choose) {
      const n = Number(choose[1]);
      const actions = Array.from({ length: n }, (_, i) => ({ type: 'imBack', title: `Option number ${i + 1} with a long title`, value: `opt-${i + 1}` }));
      await ctx.sendActivity(MessageFactory.suggestedActions(actions, 'Pick **one**:'));
    } else if (long) {
      let s = '';
      for (let i = 1; s.length < Number(long[1]); i++) s += `This is sentence number ${i} of a long answer. `;
      await ctx.sendActivity(s.trim());
    } else {
      await ctx.sendActivity(`You said: ${text}`);
    }
  };
}

/** A running server with both Meta adapters, the fake Graph API and what the test bot saw. */
export interface Rig {
  graph: FakeGraph;
  url: string;
  dataDir: string;
  clock: ReturnType<typeof fixedClock>;
  turns: Partial<Activity>[];
  sleeps: number[];
  messenger: MessengerAdapter;
  whatsapp: WhatsAppAdapter;
  post(channel: 'messenger' | 'whatsapp', raw: string, signature?: string | null): Promise<{ status: number; text: string }>;
  /** A second server + adapters on the same DATA_DIR (a restart); the old ones are closed first. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a Rig; `keepData` leaves DATA_DIR for a second rig (restart tests). */
export async function makeRig(o: { templateName?: string; bot?: (turns: Partial<Activity>[]) => BotLogic; dataDir?: string; keepData?: boolean } = {}): Promise<Rig> {
  const graph = new FakeGraph({ phoneNumberId: PHONE_NUMBER_ID, profiles: { [PSID]: { first_name: 'Peter', last_name: 'Chang' } } });
  const graphUrl = await graph.start();
  const dataDir = o.dataDir ?? (await mkdtemp(join(tmpdir(), 'switchboard-meta-')));
  const clock = fixedClock('2026-12-01T10:00:00Z');
  const turns: Partial<Activity>[] = [];
  const sleeps: number[] = [];
  const common = { graphApiUrl: graphUrl, dataDir, clock, logger: silentLogger, sleep: async (ms: number) => void sleeps.push(ms), random: () => 0.5 };
  let server: ReturnType<typeof createServer>;
  let http: Awaited<ReturnType<typeof listen>>;
  const rig = {} as Rig;

  async function boot() {
    rig.messenger = new MessengerAdapter({ ...common, messenger: { appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN, pageAccessToken: 'page-token' } });
    rig.whatsapp = new WhatsAppAdapter({
      ...common,
      whatsapp: { appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN, accessToken: 'wa-token', phoneNumberId: PHONE_NUMBER_ID, templateName: o.templateName, templateLanguage: 'en' },
    });
    server = createServer({ logger: silentLogger });
    const logic = (o.bot ?? testBot)(turns);
    rig.messenger.mount(server, logic);
    rig.whatsapp.mount(server, logic);
    await Promise.all([rig.messenger.start(), rig.whatsapp.start()]);
    http = await listen(server);
    rig.url = http.url;
  }
  await boot();

  Object.assign(rig, {
    graph,
    dataDir,
    clock,
    turns,
    sleeps,
    async post(channel: 'messenger' | 'whatsapp', raw: string, signature?: string | null) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (signature !== null) headers['x-hub-signature-256'] = signature ?? signBody(raw, APP_SECRET);
      const res = await fetch(`${rig.url}/webhooks/${channel}`, { method: 'POST', headers, body: raw });
      return { status: res.status, text: await res.text() };
    },
    async restart() {
      await Promise.all([rig.messenger.close(), rig.whatsapp.close()]);
      await http.close();
      await boot();
    },
    async close() {
      await Promise.all([rig.messenger.close(), rig.whatsapp.close()]);
      await http.close();
      await graph.close();
      if (!o.keepData) await rm(dataDir, { recursive: true, force: true });
    },
  });
  return rig;
}

/** Waits until both adapters have processed everything accepted so far. */
export async function settle(rig: Rig): Promise<void> {
  await rig.messenger.whenIdle();
  await rig.whatsapp.whenIdle();
  await new Promise((r) => setTimeout(r, 20)); // fire-and-forget read receipts
}
