import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('starts with the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.port).to.equal(3978);
    expect(config.dataDir).to.equal('./data');
    expect(config.knowledgeDir).to.equal('./knowledge');
    expect(config.messenger).to.equal(undefined);
    expect(config.whatsapp).to.equal(undefined);
  });

  it('turns a channel on when all of its settings are set', () => {
    const config = loadConfig({
      WHATSAPP_APP_SECRET: 's',
      WHATSAPP_VERIFY_TOKEN: 'v',
      WHATSAPP_ACCESS_TOKEN: 'a',
      WHATSAPP_PHONE_NUMBER_ID: '123',
    });
    expect(config.whatsapp).to.include({ appSecret: 's', phoneNumberId: '123', templateLanguage: 'en' });
  });

  it('names the missing variable when half a channel is configured', () => {
    expect(() => loadConfig({ MESSENGER_PAGE_ACCESS_TOKEN: 'x', MESSENGER_VERIFY_TOKEN: 'v' }))
      .to.throw(ConfigError, /MESSENGER_APP_SECRET is required/);
  });

  it('treats an empty value as unset, as in a copied .env.example', () => {
    expect(loadConfig({ MESSENGER_APP_SECRET: '', PORT: '8080' }).messenger).to.equal(undefined);
  });

  it('names the variable when a value is invalid', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).to.throw(ConfigError, /^PORT: /);
    expect(() => loadConfig({ GRAPH_API_URL: 'not a url' })).to.throw(ConfigError, /GRAPH_API_URL/);
    expect(() => loadConfig({ BUSINESS_TIMEZONE: 'Mars/Olympus' })).to.throw(ConfigError, /BUSINESS_TIMEZONE/);
  });

  it('uses files unless DATABASE_URL names a PostgreSQL server, and says so for anything else', () => {
    expect(loadConfig({}).databaseUrl).to.equal(undefined);
    expect(loadConfig({ DATABASE_URL: '' }).databaseUrl).to.equal(undefined);
    expect(loadConfig({ DATABASE_URL: 'postgres://sb:pw@db:5432/sb' }).databaseUrl).to.equal('postgres://sb:pw@db:5432/sb');
    expect(() => loadConfig({ DATABASE_URL: 'mysql://db/sb' })).to.throw(ConfigError, /DATABASE_URL: must start with postgres:\/\//);
  });

  it('reads TRUST_PROXY and PUBLIC_URL for a server behind a reverse proxy', () => {
    const config = loadConfig({ TRUST_PROXY: '2', PUBLIC_URL: 'https://chat.example.com/' });
    expect(config.trustProxy).to.equal(2);
    expect(config.publicUrl).to.equal('https://chat.example.com');
    expect(loadConfig({}).trustProxy).to.equal(0);
    expect(() => loadConfig({ TRUST_PROXY: 'yes' })).to.throw(ConfigError, /TRUST_PROXY/);
    expect(() => loadConfig({ PUBLIC_URL: 'chat.example.com' })).to.throw(ConfigError, /PUBLIC_URL: must be an http\(s\) origin/);
  });
});
