/**
 * `npm run simulate -- messenger|whatsapp "text" [--from ID] [--name NAME] [--url http://localhost:3978]`
 *
 * Signs a realistic webhook with the configured app secret (MESSENGER_APP_SECRET / WHATSAPP_APP_SECRET
 * from .env or the environment, via src/config.ts) and posts it to a running server, so anyone can try
 * the channels without a Meta app. The bot's reply goes to GRAPH_API_URL — point that at a fake or
 * watch the server log.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, loadDotEnv } from '../../src/config.js';
import { signBody, SIGNATURE_HEADER } from './verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from './sample-events.js';

/** Builds, signs and posts one webhook; returns what happened, for the CLI to print. */
export async function simulate(o: { channel: 'messenger' | 'whatsapp'; text: string; from?: string; name?: string; url: string; env?: Record<string, string | undefined> }) {
  const config = loadConfig(o.env); // undefined: the environment, read inside src/config.ts
  let body: unknown;
  let secret: string;
  if (o.channel === 'messenger') {
    if (!config.messenger) throw new Error('simulate: the Messenger channel is off — set MESSENGER_APP_SECRET, MESSENGER_VERIFY_TOKEN and MESSENGER_PAGE_ACCESS_TOKEN (see .env.example)');
    secret = config.messenger.appSecret;
    body = messengerTextWebhook({ psid: o.from ?? '1254477777772919', text: o.text });
  } else {
    if (!config.whatsapp) throw new Error('simulate: the WhatsApp channel is off — set WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN, WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID (see .env.example)');
    secret = config.whatsapp.appSecret;
    body = whatsappTextWebhook({ waId: o.from ?? '16505551234', name: o.name, text: o.text, phoneNumberId: config.whatsapp.phoneNumberId });
  }
  const raw = serializeLikeMeta(body);
  const target = `${o.url.replace(/\/+$/, '')}/webhooks/${o.channel}`;
  const res = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(raw, secret) }, body: raw });
  return { target, status: res.status, response: await res.text(), body: raw };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { from: { type: 'string' }, name: { type: 'string' }, url: { type: 'string' }, env: { type: 'string' } },
  });
  const [channel, text] = positionals;
  if ((channel !== 'messenger' && channel !== 'whatsapp') || !text) {
    console.error('usage: npm run simulate -- messenger|whatsapp "text" [--from ID] [--name NAME] [--url http://localhost:3978]');
    process.exit(2);
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    loadDotEnv(values.env ?? '.env');
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${err.name}: ${err.message}`); // names the variable; no stack for the user's own setting
    process.exit(2);
  }
  const url = values.url ?? `http://localhost:${config.port}`;
  try {
    const r = await simulate({ channel, text, from: values.from, name: values.name, url });
    console.log(`POST ${r.target} (signed with the ${channel} app secret, X-Hub-Signature-256)`);
    console.log(r.body);
    console.log(`→ ${r.status} ${r.response}`);
    if (r.status === 200) console.log(`The bot's reply goes to ${config.graphApiUrl}; see the server log.`);
    process.exit(r.status === 200 ? 0 : 1);
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.message === 'fetch failed') console.error(`simulate: could not reach ${url} (${e.cause?.code ?? 'no answer'}) — is the server running? Start it with npm start, or pass --url`);
    else console.error(e.message);
    process.exit(1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
