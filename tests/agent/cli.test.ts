import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { AgentAccounts } from '../../src/agent/accounts.js';
import { main, type PasswordSource } from '../../src/agent/cli.js';
import { PgAgentAccounts } from '../../src/agent/pg-agents.js';
import { usePostgres } from '../helpers/postgres.js';

/** Standard input as a pipe holding `text` (nothing: an empty pipe, as with `< /dev/null`). */
const piped = (text = ''): PasswordSource => ({ stdin: Readable.from(text ? [text] : []), prompt: new PassThrough() });

const CLI = fileURLToPath(new URL('../../src/agent/cli.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

describe('npm run agents', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const run = (...argv: string[]) => main(argv, dir, (l) => out.push(l), (l) => err.push(l), piped());
  const runWithInput = (input: string, ...argv: string[]) => main(argv, dir, (l) => out.push(l), (l) => err.push(l), piped(input));
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

  it('refuses a duplicate name, a short password and a missing password', async () => {
    await run('add', 'ada', '--password', 'secret-pass-1');
    expect(await run('add', 'ada', '--password', 'another-pass')).to.equal(1);
    expect(err.at(-1)).to.include('already exists');
    expect(await run('add', 'bob', '--password', 'short')).to.equal(1);
    expect(err.at(-1)).to.include('at least 12 characters');
    expect(await run('add', 'cy')).to.equal(1);
    expect(err.at(-1)).to.include('agents add: no password on standard input');
    expect((await AgentAccounts.open(dir).then((a) => a.list())).map((a) => a.id)).to.deep.equal(['ada']);
  });

  it('refuses common passwords and passwords with the agent\'s name, saying why without repeating them', async () => {
    const refusals: Array<[string, RegExp]> = [
      ['12345678', /agents add: the password needs at least 12 characters/],
      ['password123', /agents add: the password needs at least 12 characters/],
      ['alice2026', /agents add: the password needs at least 12 characters/],
      ['password1234', /agents add: the password is too easy to guess: it is a small change to a commonly used password/],
      ['qwertyuiop12', /agents add: the password is too easy to guess/],
      ['abcdefghijklmnop', /agents add: the password is too easy to guess: sequences like "abc"/],
      ['Alice-spring-2026', /agents add: the password must not contain the agent's name \(alice\)/],
      ['ALICEALICEALICE', /agents add: the password must not contain the agent's name/],
    ];
    for (const [password, why] of refusals) {
      expect(await runWithInput(`${password}\n`, 'add', 'alice'), password).to.equal(1);
      expect(err.at(-1), password).to.match(why).and.not.include(password);
    }
    expect(await run('add', 'alice', '--password', 'password1234'), 'with --password too').to.equal(1);
    expect(await run('add', 'alice', '--name', 'Maria Schmidt', '--password', 'MariaSchmidt1')).to.equal(1);
    expect(err.at(-1), 'nor the display name').to.include('too easy to guess');
    expect(await AgentAccounts.open(dir).then((a) => a.list())).to.deep.equal([]);
    expect(await runWithInput('tangerine kayak window\n', 'add', 'alice')).to.equal(0);
  });

  it('reads the password from standard input when it is piped, keeping it out of the command line', async function () {
    this.timeout(30_000);
    const r = spawnSync('npm', ['run', '--silent', 'agents', '--', 'add', 'alice', '--name', 'Alice'], {
      input: 'tangerine kayak window\nsecond line is ignored\n',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dir },
      encoding: 'utf8',
    });
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    expect(r.stdout).to.include('added agent alice (Alice)');
    const accounts = await AgentAccounts.open(dir);
    expect(await accounts.verify('alice', 'tangerine kayak window')).to.include({ id: 'alice' });
    expect(await readFile(path.join(dir, 'agents.json'), 'utf8')).to.not.include('tangerine');
  });

  it('warns that --password lands in the shell history, and still accepts it', async () => {
    expect(await run('add', 'ada', '--password', 'secret-pass-1')).to.equal(0);
    expect(err).to.deep.equal(['agents add: warning: --password leaves the password in your shell history and the process list; leave it out to be asked for it, or pipe it in']);
  });

  it('asks for the password twice at a terminal without showing it, and asks again after a refused one', async function () {
    this.timeout(60_000);
    // `script` gives the command a real terminal (a pty); what it prints is what a person would see.
    const child = spawn('script', ['-qfec', `${process.execPath} --import ${TSX} ${CLI} add alice`, '/dev/null'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dir, TERM: 'dumb' },
    });
    let screen = '';
    child.stdout.on('data', (d) => (screen += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const waitFor = async (text: string, times = 1) => {
      for (let i = 0; i < 600 && screen.split(text).length - 1 < times; i++) await new Promise((r) => setTimeout(r, 50));
      expect(screen.split(text).length - 1, `the terminal shows ${JSON.stringify(text)}:\n${screen}`).to.be.at.least(times);
    };
    try {
      await waitFor('New password for alice: ');
      child.stdin.write('password1234\r');
      await waitFor('too easy to guess');
      await waitFor('New password for alice: ', 2);
      child.stdin.write('tangerine kayak window\r');
      await waitFor('Type it again: ');
      child.stdin.write('tangerine kayak window\r');
      await waitFor('added agent alice');
      expect(await exited).to.equal(0);
    } finally {
      child.kill();
    }
    expect(screen).to.not.include('tangerine').and.not.include('password1234');
    const accounts = await AgentAccounts.open(dir);
    expect(await accounts.verify('alice', 'tangerine kayak window')).to.include({ id: 'alice' });
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
  const run = (...argv: string[]) => main(argv, dir, (l) => out.push(l), (l) => err.push(l), piped());
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

  it('reads the new password from standard input', async () => {
    expect(await main(['passwd', 'ada'], dir, (l) => out.push(l), (l) => err.push(l), piped('secret-pass-2\n'))).to.equal(0);
    const accounts = await AgentAccounts.open(dir);
    expect(await accounts.verify('ada', 'secret-pass-2')).to.include({ id: 'ada' });
  });

  it('refuses a missing password, a weak one and an unknown agent', async () => {
    expect(await run('passwd', 'ada')).to.equal(1);
    expect(err.at(-1)).to.include('agents passwd: no password on standard input');
    expect(await run('passwd', 'ada', '--password', 'short')).to.equal(1);
    expect(err.at(-1)).to.include('at least 12 characters');
    expect(await run('passwd', 'ada', '--password', 'ada-lovelace-1815')).to.equal(1);
    expect(err.at(-1)).to.include("agents passwd: the password must not contain the agent's name (ada)");
    expect(await run('passwd', 'ada', '--password', 'password1234')).to.equal(1);
    expect(err.at(-1)).to.include('agents passwd: the password is too easy to guess');
    expect(await run('passwd', 'nobody', '--password', 'long enough words')).to.equal(1);
    expect(err.at(-1)).to.include('no agent named nobody');
    expect(await run('passwd')).to.equal(2);
    expect(err.at(-1)).to.include('npm run agents -- passwd NAME');
    const accounts = await AgentAccounts.open(dir);
    expect(await accounts.verify('ada', 'secret-pass-1'), 'the password is unchanged').to.include({ id: 'ada' });
  });
});

describe('npm run agents with DATABASE_URL', function () {
  const pg = usePostgres();
  let dir: string;
  let out: string[];
  let err: string[];
  const run = (...argv: string[]) => main(argv, { dataDir: dir, databaseUrl: pg.url }, (l) => out.push(l), (l) => err.push(l), piped());
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
    expect(await run('add', 'bob', '--password', 'bob-the-builder-1')).to.equal(1);
    expect(err.at(-1), 'the same password policy').to.include("the password must not contain the agent's name (bob)");
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
