/**
 * `npm run kb -- diff` and `tests:` in `kb check`: two copies of the sample knowledge in temp folders —
 * "after" adds a card-payment entry and takes the lost-or-stolen entry off web chat — and customer
 * questions saved as the bot saves them, in a temp DATA_DIR (and in PostgreSQL).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../../src/knowledge/cli.js';
import { FileQuestionsStore } from '../../src/knowledge/questions-store.js';
import { PgQuestionsStore } from '../../src/storage/postgres/questions-store.js';
import { KNOWLEDGE_DIR } from '../faults/helpers.js';
import { editKnowledge, saveAsked } from './diff-fixtures.js';
import { usePostgres } from '../helpers/postgres.js';

const git = promisify(execFile);

async function kb(args: string[], env?: Record<string, string | undefined>): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, env);
  return { code, out, err };
}

describe('kb diff: what a knowledge change breaks', function () {
  this.timeout(60_000);
  let tmp: string;
  let before: string;
  let after: string;
  let data: string;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'kb-diff-'));
    before = path.join(tmp, 'before');
    after = path.join(tmp, 'after');
    data = path.join(tmp, 'data');
    await cp(KNOWLEDGE_DIR, before, { recursive: true });
    await cp(KNOWLEDGE_DIR, after, { recursive: true });
    await editKnowledge(after);
    const store = await FileQuestionsStore.open(data);
    await saveAsked(store, before);
    await store.close();
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true, maxRetries: 5 });
  });

  it('lists every question whose reply changes, most asked first, with before → after, and leaves the others out', async () => {
    const r = await kb(['diff', '--before', before, '--after', after, '--data', data]);
    expect(r.code).to.equal(0);
    expect(r.out[0]).to.equal(`5 saved questions (asked 15 times, from ${data}) replayed against before ${before} (55 entries) and after ${after} (56 entries):`);
    expect(r.out[1]).to.equal('! 3 questions (asked 6 times) would get another reply, the most asked first:');
    const listed = r.out.slice(2);
    expect(listed).to.have.length(6);
    expect(listed[0]).to.match(/^ {5}3× {2}can I pay by credit card {2}\[webchat\]$/);
    expect(listed[1]).to.match(/^ +answer billing\/pay-bill \(0\.\d\d\) → answer billing\/pay-by-card \(0\.\d\d\)$/);
    expect(listed[2]).to.match(/^ {5}2× {2}(someone stole my mobile|SOMEONE STOLE MY MOBILE) {2}\[webchat\]$/);
    expect(listed[3]).to.match(/^ +answer sim\/lost-stolen \(0\.\d\d\) → miss \(best 0\.\d\d\)$/);
    expect(listed[4]).to.match(/^ {5}1× {2}block my sim/);
    expect(listed[5]).to.match(/^ +answer sim\/lost-stolen \(0\.\d\d\) → suggest sim\/activate-sim, sim\/puk-code \(0\.\d\d\)$/);
    const text = r.out.join('\n').toLowerCase();
    expect(text, 'untouched questions are not listed').to.not.include('top up').and.not.include('how can i pay my bill');
  });

  it('--fail-on-change exits 1 when something changes and 0 when nothing does', async () => {
    const changed = await kb(['diff', '--before', before, '--after', after, '--data', data, '--fail-on-change']);
    expect(changed.code).to.equal(1);
    expect(changed.out[1]).to.match(/^✗ 3 questions/);
    const same = await kb(['diff', '--before', before, '--after', before, '--data', data, '--fail-on-change']);
    expect(same.code).to.equal(0);
    expect(same.out.at(-1)).to.equal('✓ no question gets another reply');
  });

  it('--json prints one JSON document with both versions, the counts and each change', async () => {
    const r = await kb(['diff', '--before', before, '--after', after, '--data', data, '--json']);
    expect(r.code).to.equal(0);
    expect(r.out).to.have.length(1);
    const doc = JSON.parse(r.out[0]!);
    expect(doc).to.include({ questions: 5, asked: 15, changedAsked: 6, questionsFrom: data });
    expect(doc.before).to.deep.equal({ source: before, entries: 55 });
    expect(doc.after).to.deep.equal({ source: after, entries: 56 });
    expect(doc.ms).to.be.a('number');
    expect(doc.changed).to.have.length(3);
    const [card] = doc.changed;
    expect(card).to.have.keys('question', 'count', 'channels', 'lastAt', 'before', 'after');
    expect(card).to.deep.include({ question: 'can I pay by credit card', count: 3, channels: ['webchat'] });
    expect(card.before).to.deep.include({ kind: 'answer', entryIds: ['billing/pay-bill'] });
    expect(card.after).to.deep.include({ kind: 'answer', entryIds: ['billing/pay-by-card'] });
    expect(card.after.confidence).to.be.within(0.5, 1);
    expect(doc.changed.map((c: { after: { kind: string } }) => c.after.kind)).to.deep.equal(['answer', 'miss', 'suggest']);
  });

  it('compares with the git HEAD of the folder by default, or any revision, without touching the work tree', async () => {
    const repo = path.join(tmp, 'repo');
    const folder = path.join(repo, 'knowledge');
    await cp(before, folder, { recursive: true });
    const run = (...args: string[]) => git('git', ['-C', repo, '-c', 'user.name=Editor', '-c', 'user.email=editor@example.com', ...args]);
    await run('init', '-q');
    await run('add', '.');
    await run('commit', '-q', '-m', 'knowledge as published');
    await editKnowledge(folder); // uncommitted edits

    const head = await kb(['diff', '--after', folder, '--data', data, '--fail-on-change']);
    expect(head.code).to.equal(1);
    expect(head.out[0]).to.include(`before HEAD:knowledge (55 entries) and after ${folder} (56 entries)`);
    expect(head.out[1]).to.match(/^✗ 3 questions/);
    expect((await run('status', '--porcelain')).stdout, 'the edits are still uncommitted').to.include('knowledge/billing/pay-by-card.md');

    await run('add', '.');
    await run('commit', '-q', '-m', 'card payments');
    expect((await kb(['diff', '--after', folder, '--data', data, '--fail-on-change'])).code, 'HEAD is now the edit').to.equal(0);
    const previous = await kb(['diff', '--before', 'HEAD~1', '--after', folder, '--data', data, '--json']);
    expect(JSON.parse(previous.out[0]!).changed).to.have.length(3);

    const unknown = await kb(['diff', '--before', 'no-such-branch', '--after', folder, '--data', data]);
    expect(unknown.code).to.equal(2);
    expect(unknown.err.join('\n')).to.include('"no-such-branch" is not a commit');
  });

  it('says clearly when the folder is not in a git repository (exit 2)', async () => {
    const r = await kb(['diff', '--after', after, '--data', data]);
    expect(r.code).to.equal(2);
    expect(r.err.join('\n')).to.equal(
      `kb: ${after} is not in a git repository, so there is no earlier version to compare with: give it with --before DIR (or --before GIT-REV inside a repository)`,
    );
  });

  it('rejects stray arguments with the usage (exit 2)', async () => {
    const r = await kb(['diff', 'some', 'text']);
    expect(r.code).to.equal(2);
    expect(r.err.join('\n')).to.include('diff takes no text').and.include('npm run kb -- diff [--before DIR|GIT-REV]');
  });

  describe('on PostgreSQL (DATABASE_URL)', () => {
    const pg = usePostgres();

    it('replays the questions saved in the database the server uses', async () => {
      await saveAsked(new PgQuestionsStore(pg.db), before);
      const r = await kb(['diff', '--before', before, '--after', after, '--json'], { DATABASE_URL: pg.url, DATA_DIR: path.join(tmp, 'unused') });
      expect(r.code).to.equal(0);
      const doc = JSON.parse(r.out[0]!);
      expect(doc).to.include({ questions: 5, asked: 15, questionsFrom: 'PostgreSQL (DATABASE_URL)' });
      expect(doc.changed.map((c: { question: string; count: number }) => [c.question.toLowerCase(), c.count])).to.deep.equal([
        ['can i pay by credit card', 3],
        ['someone stole my mobile', 2],
        ['block my sim', 1],
      ]);
    });
  });
});

describe('kb check: tests: phrasings must reach their entry', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kb-tests-'));
    await cp(KNOWLEDGE_DIR, dir, { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes the sample knowledge, whose tests: reach their entries', async () => {
    const r = await kb(['check', KNOWLEDGE_DIR]);
    expect(r.out.join('\n')).to.match(/no problems$/);
    expect(r.code).to.equal(0);
  });

  it('reports a phrasing that reaches another entry, or nothing, at its own line as path:line', async () => {
    const file = path.join(dir, 'billing', 'pay-bill.md');
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    const at = lines.indexOf('  - can I pay with apple pay');
    expect(at).to.be.above(0);
    lines.splice(at + 1, 0, '  - where can I settle my invoice', '  - what is the capital of peru');
    await writeFile(file, lines.join('\n'));
    const r = await kb(['check', dir]);
    expect(r.code).to.equal(1);
    expect(r.out[0]).to.match(new RegExp(`^billing/pay-bill\\.md:${at + 2}: tests: "where can I settle my invoice" reaches billing/view-bill \\(0\\.\\d\\d\\) instead of billing/pay-bill$`));
    expect(r.out[1]).to.match(new RegExp(`^billing/pay-bill\\.md:${at + 3}: tests: "what is the capital of peru" reaches nothing \\(best 0\\.\\d\\d\\) instead of billing/pay-bill$`));
    expect(r.out[2]).to.equal(`✗ ${dir}: 2 problems in 1 of 55 files`);
  });

  it('reports tests: that is not a list of texts like any other field', async () => {
    const file = path.join(dir, 'sim', 'lost-stolen.md');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/tests:\n(  - .*\n)+/, 'tests: yes\n'));
    const r = await kb(['check', dir]);
    expect(r.code).to.equal(1);
    expect(r.out[0]).to.match(/^sim\/lost-stolen\.md:\d+: "tests" must be a list of ways customers ask/);
  });
});
