/**
 * The fake Graph API (tests/fakes/graph.ts, which schema-checks every Send API / messages API body)
 * in its own process for bench/load.ts, so its HTTP and validation work is billed neither to the
 * server under test nor to the load generator. Every accepted message send is reported to the parent
 * over IPC as `{type: 'sent', api, to, text}`; the parent routes it to the waiting customer.
 */
import { FakeGraph } from '../../tests/fakes/graph.js';
import { graphReply, SECRETS } from './customers.js';
import { serveMemoryRequests } from './ipc.js';

// Every Messenger customer has a profile, as on Meta (the adapter looks the name up).
const profiles = new Proxy({} as Record<string, { first_name: string; last_name: string }>, { get: (_, id) => ({ first_name: 'Bench', last_name: `Customer ${String(id).slice(-4)}` }) });
const graph = new FakeGraph({ phoneNumberId: SECRETS.phoneNumberId, pageAccessToken: SECRETS.pageAccessToken, whatsappAccessToken: SECRETS.whatsappAccessToken, profiles, record: false });
const url = await graph.start();
let rejected = 0;
graph.onRequest((rec, body) => {
  if (!rec.isMessage && rec.status === 200) return; // typing indicators, read receipts
  const reply = rec.status === 200 ? graphReply(rec.api, body) : undefined;
  if (reply) process.send!({ type: 'sent', api: rec.api, to: reply.to, text: reply.text });
  else process.send!({ type: 'rejected', status: rec.status, count: ++rejected, error: JSON.stringify(rec.response).slice(0, 300) });
});
serveMemoryRequests(() => graph.close());
process.send!({ type: 'ready', url });
