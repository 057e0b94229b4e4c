import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/knowledge/cli.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'src', 'knowledge', 'cli.ts');

/** Runs `npm run kb -- ...` the way a user would (node with the tsx loader), from the project root. */
function kb(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('kb CLI', function () {
  this.timeout(30000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kb-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes check on the sample knowledge folder, the default', async () => {
    const { code, stdout } = await kb(['check'], { KNOWLEDGE_DIR: './knowledge' });
    expect(stdout.trim()).to.match(/^✓ \.\/knowledge: \d+ entries in \d+ files, no problems$/);
    expect(code).to.equal(0);
  });

  it('fails check on a broken folder with every problem on its own line', async () => {
    await mkdir(path.join(dir, 'billing'));
    await writeFile(path.join(dir, 'billing', 'pay.md'), '---\nquestion: How do I pay?\nalternate:\n  - pay\nfollow_ups: [billing/due]\n---\nIn the app.\n');
    await writeFile(path.join(dir, 'hello.md'), 'Hello without front matter\n');
    const { code, stdout } = await kb(['check', dir]);
    expect(stdout.trim().split('\n')).to.deep.equal([
      'billing/pay.md:3: unknown field "alternate" (did you mean "alternates"?)',
      'billing/pay.md:5: follow_ups names unknown id "billing/due"',
      'hello.md:1: missing front matter: start the file with a line "---", then "question: ..." and the other fields, then "---" and the answer',
      `✗ ${dir}: 3 problems in 2 of 2 files`,
    ]);
    expect(code).to.equal(1);
  });

  it('prints the ranked matches and the decision for a search', async () => {
    const { code, stdout } = await kb(['search', 'how do i pay my bill', '--knowledge', 'knowledge', '--channel', 'whatsapp']);
    expect(code).to.equal(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).to.contain('"how do i pay my bill" in knowledge (channel whatsapp, locale en');
    expect(lines[1]).to.match(/^ 1\. [01]\.\d\d {2}billing\/pay-bill /);
    expect(lines.at(-1)).to.match(/^Decision: answer with billing\/pay-bill \(confidence [01]\.\d\d\)$/);
  });

  it('explains a usage error with exit code 2', async () => {
    const { code, stderr } = await kb(['search']);
    expect(code).to.equal(2);
    expect(stderr).to.contain('search needs the text to look for');
    expect(stderr).to.contain('Usage:');
  });

  describe('in process (runCli)', () => {
    async function run(args: string[]) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    }

    it('shows a time-limited offer only on its dates', async () => {
      expect((await run(['search', 'double data promo', '--knowledge', 'knowledge', '--date', '2026-12-01'])).out).to.contain('offers/winter-double-data');
      expect((await run(['search', 'double data promo', '--knowledge', 'knowledge', '--date', '2027-01-01'])).out).to.not.contain('offers/winter-double-data');
    });

    it('rejects unknown channels, commands, options and folders with exit code 2', async () => {
      const badChannel = await run(['search', 'hi', '--channel', 'sms']);
      expect(badChannel).to.include({ code: 2 });
      expect(badChannel.err).to.contain('unknown channel "sms" (valid channels: webchat, messenger, whatsapp)');
      const unknown = await run(['frobnicate']);
      expect(unknown).to.include({ code: 2 });
      expect(unknown.err).to.contain('unknown command "frobnicate"');
      const badOption = await run(['search', 'hi', '--knowlege', 'knowledge']);
      expect(badOption).to.include({ code: 2 });
      expect(badOption.err).to.contain("'--knowlege'");
      const badDate = await run(['search', 'hi', '--date', '1/12/2026']);
      expect(badDate.err).to.contain('--date must be YYYY-MM-DD');
      const missing = await run(['check', path.join(dir, 'nope')]);
      expect(missing).to.include({ code: 2 });
      expect(missing.err).to.contain('does not exist');
    });

    it('refuses to search a folder with problems', async () => {
      await writeFile(path.join(dir, 'a.md'), '---\nquestion: Hi\nchannels: [sms]\n---\nHello\n');
      const r = await run(['search', 'hi', '--knowledge', dir]);
      expect(r).to.include({ code: 1 });
      expect(r.err).to.contain('a.md:3: unknown channel "sms"');
    });

    it('fails check on a folder without knowledge files', async () => {
      const r = await run(['check', dir]);
      expect(r).to.include({ code: 1 });
      expect(r.out).to.contain('no knowledge files (.md) found');
    });
  });
});
