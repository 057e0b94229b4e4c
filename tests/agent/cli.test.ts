import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AgentAccounts } from '../../src/agent/accounts.js';
import { main } from '../../src/agent/cli.js';
import { PgAgentAccounts } from '../../src/agent/pg-agents.js';
import { usePostgres } from '../helpers/postgres.js';

describe('npm run agents', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const run = (...argv: string[]) => main(argv, dir, (l) => out.push(l), (l) => err.push(l));
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'agents-cli-'));
    out = [];
    err = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('adds an agent whose password is stored only as a scrypt hash and works for sign-in', async () => {
    expect(await run('add', 'Ada', '--password', 'secret-pass-1', '--name', 'Ada Lovelace', '--teams', 'billing,tech', '--capacity', '2')).to.equal(0);
    expect(out[0]).to.include('added agent ada (Ada Lovelace)');
    const file = await readFile(path.join(dir, 'agents.json'), 'utf8');
    expect(file).to.not.include('secret-pass-1');
    expect(file).to.include('scrypt$');
    const accounts = await AgentAccounts.open(dir);
    expect(await accounts.verify('ada', 'secret-pass-1')).to.include({ id: 'ada', name: 'Ada Lovelace', capacity: 2 });
    expect(await accounts.verify('ada', 'wrong-pass-1')).to.equal(undefined);
  });

  it('refuses a duplicate name, a short password and a missing --password', async () => {
    await run('add', 'ada', '--password', 'secret-pass-1');
    expect(await run('add', 'ada', '--password', 'another-pass')).to.equal(1);
    expect(err.at(-1)).to.include('already exists');
    expect(await run('add', 'bob', '--password', 'short')).to.equal(1);
    expect(err.at(-1)).to.include('at least 8');
    expect(await run('add', 'cy')).to.equal(2);
    expect(err.at(-1)).to.include('--password is required');
  });

  it('names the bad setting in one line, without a stack trace, when the configuration is wrong', () => {
    const r = spawnSync('npm', ['run', '--silent', 'agents', '--', 'list'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: 'mysql://db/sb' }, encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr.trim()).to.equal('ConfigError: DATABASE_URL: must start with postgres:// or postgresql:// (got "mysql://db/sb"; see .env.example)');
  });

  it('lists and removes agents', async () => {
    await run('add', 'ada', '--password', 'secret-pass-1');
    expect(await run('list')).to.equal(0);
    expect(out.at(-1)).to.match(/^ada\t/);
    expect(await run('remove', 'ada')).to.equal(0);
    expect(await run('remove', 'ada')).to.equal(1);
  });
});

describe('npm run agents -- passwd', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const run = (...argv: string[]) => main(argv, dir, (l) => out.push(l), (l) => err.push(l));
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'agents-cli-'));
    out = [];
    err = [];
    await run('add', 'ada', '--password', 'secret-pass-1');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('changes a password: the old one stops working, the new one signs in', async () => {
    expect(await run('passwd', 'Ada', '--password', 'secret-pass-2')).to.equal(0);
    expect(out.at(-1)).to.include('changed the password of agent Ada');
    const accounts = await AgentAccounts.open(dir);
    expect(await accounts.verify('ada', 'secret-pass-1')).to.equal(undefined);
    expect(await accounts.verify('ada', 'secret-pass-2')).to.include({ id: 'ada' });
    expect(await readFile(path.join(dir, 'agents.json'), 'utf8')).to.not.include('secret-pass-2');
  });

  it('refuses a missing --password, a short password and an unknown agent', async () => {
    expect(await run('passwd', 'ada')).to.equal(2);
    expect(err.at(-1)).to.include('agents passwd: --password is required');
    expect(await run('passwd', 'ada', '--password', 'short')).to.equal(1);
    expect(err.at(-1)).to.include('at least 8');
    expect(await run('passwd', 'nobody', '--password', 'long enough')).to.equal(1);
    expect(err.at(-1)).to.include('no agent named nobody');
    expect(await run('passwd')).to.equal(2);
    expect(err.at(-1)).to.include('npm run agents -- passwd NAME --password NEW_PASSWORD');
    const accounts = await AgentAccounts.open(dir);
    expect(await accounts.verify('ada', 'secret-pass-1'), 'the password is unchanged').to.include({ id: 'ada' });
  });
});

describe('npm run agents with DATABASE_URL', function () {
  const pg = usePostgres();
  let dir: string;
  let out: string[];
  let err: string[];
  const run = (...argv: string[]) => main(argv, { dataDir: dir, databaseUrl: pg.url }, (l) => out.push(l), (l) => err.push(l));
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'agents-cli-pg-'));
    out = [];
    err = [];
    await pg.db.query('TRUNCATE agents, agent_sessions');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps the accounts in PostgreSQL, not in DATA_DIR', async () => {
    expect(await run('add', 'Ada', '--password', 'secret-pass-1', '--name', 'Ada Lovelace', '--teams', 'billing', '--capacity', '2')).to.equal(0);
    expect(await run('add', 'ada', '--password', 'secret-pass-1')).to.equal(1);
    expect(err.at(-1)).to.include('already exists');
    expect(await readdir(dir)).to.not.include('agents.json');
    const accounts = new PgAgentAccounts(pg.db);
    expect(await accounts.verify('ada', 'secret-pass-1')).to.deep.include({ id: 'ada', name: 'Ada Lovelace', teams: ['billing'], capacity: 2 });
    expect(await run('passwd', 'ada', '--password', 'secret-pass-2')).to.equal(0);
    expect(await accounts.verify('ada', 'secret-pass-1')).to.equal(undefined);
    expect(await accounts.verify('ada', 'secret-pass-2')).to.include({ id: 'ada' });
    expect(await run('list')).to.equal(0);
    expect(out.at(-1)).to.match(/^ada\tAda Lovelace\tteams: billing\tcapacity: 2$/);
    expect(await run('remove', 'ada')).to.equal(0);
    expect(await accounts.get('ada')).to.equal(undefined);
    expect(await run('remove', 'ada')).to.equal(1);
  });

  it('says so when the database cannot be reached', async () => {
    const code = await main(['list'], { dataDir: dir, databaseUrl: 'postgres://postgres@127.0.0.1:1/none' }, (l) => out.push(l), (l) => err.push(l));
    expect(code).to.equal(1);
    expect(err.at(-1)).to.match(/^agents list: .*database is unavailable/);
  });
});
