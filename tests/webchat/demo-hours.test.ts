import { expect } from 'chai';
import { BusinessHours } from '../../src/handoff/business-hours.js';
import { mountDemoPage } from '../../src/web/demo-page.js';
import { startWebChat } from './fixture.js';

describe('web chat demo page header', () => {
  let app: Awaited<ReturnType<typeof startWebChat>>;
  beforeEach(async () => {
    app = await startWebChat();
  });
  afterEach(async () => app?.close());

  const status = async () => {
    const html = await (await fetch(`${app.url}/`)).text();
    return /<span id="chat-status-text">(.*?)<\/span>/.exec(html)?.[1] ?? '';
  };

  it('says when people answer from the configured business hours', async () => {
    const hours = new BusinessHours('Mon-Sat 08:00-20:00', 'Europe/Berlin');
    mountDemoPage(app.server, { tokens: app.adapter, peopleHours: hours.describe() });
    const text = await status();
    expect(text).to.include('people Mon-Sat 08:00-20:00 (Europe/Berlin)');
    expect(text).not.to.include('9–18');
  });

  it('promises only the assistant when no hours are given', async () => {
    mountDemoPage(app.server, { tokens: app.adapter });
    const text = await status();
    expect(text).to.include('Assistant online');
    expect(text).not.to.include('people');
    expect(text).not.to.include('__PEOPLE_HOURS__');
  });

  it('shows the hours as text, not markup', async () => {
    mountDemoPage(app.server, { tokens: app.adapter, peopleHours: '<b>always</b> & more' });
    expect(await status()).to.include('people &lt;b&gt;always&lt;/b&gt; &amp; more');
  });
});
