import { expect } from 'chai';
import { connect } from './client.js';
import { startWebChat } from './fixture.js';

describe('web chat over Direct Line (botframework-directlinejs as the client)', () => {
  let app: Awaited<ReturnType<typeof startWebChat>>;
  const clients: { close(): void }[] = [];
  beforeEach(async () => (app = await startWebChat()));
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await app.close();
  });

  it('starts a conversation, echoes the user message with its clientActivityID and delivers the reply over the WebSocket', async () => {
    const { token } = app.adapter.generateToken();
    const client = connect({ domain: app.domain, token });
    clients.push(client);
    await client.waitFor((a) => (a as any).text === 'Welcome to the echo bot', 'welcome');
    const id = await client.post({ text: 'hello', channelData: { clientActivityID: 'c-1' } });
    const echo = await client.waitFor((a) => a.channelData?.clientActivityID === 'c-1', 'echo');
    expect(echo.id).to.equal(id);
    expect(echo.from.role).to.equal('user');
    const reply = await client.waitFor((a) => (a as any).text === 'You said: hello', 'reply');
    expect(reply.from.role).to.equal('bot');
    expect(Number(reply.id!.split('|')[1])).to.be.greaterThan(Number(echo.id!.split('|')[1]));
  });

  it('works by polling with a watermark when WebSockets are off', async () => {
    const { token } = app.adapter.generateToken();
    const client = connect({ domain: app.domain, token, webSocket: false, pollingInterval: 200 });
    clients.push(client);
    await client.post({ text: 'polling', channelData: { clientActivityID: 'p-1' } });
    await client.waitFor((a) => a.channelData?.clientActivityID === 'p-1' && !!a.id, 'echo');
    await client.waitFor((a) => (a as any).text === 'You said: polling', 'reply');
    const texts = client.received.map((a) => (a as any).text);
    expect(texts.filter((t) => t === 'You said: polling')).to.have.length(1); // the watermark stops repeats
  });
});
