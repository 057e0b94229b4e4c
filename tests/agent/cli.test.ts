import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AgentAccounts } from '../../src/agent/accounts.js';
import { main } from '../../src/agent/cli.js';

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

  it('lists and removes agents', async () => {
    await run('add', 'ada', '--password', 'secret-pass-1');
    expect(await run('list')).to.equal(0);
    expect(out.at(-1)).to.match(/^ada\t/);
    expect(await run('remove', 'ada')).to.equal(0);
    expect(await run('remove', 'ada')).to.equal(1);
  });
});
