import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LowdbStorage, LowdbTranscriptStore } from '../../src/storage/index.js';
import { listFiles, tempDir } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ACKS_BEFORE_KILL = 200;

/** Runs the writer until it has acknowledged `acks` writes, kills it with SIGKILL, returns what it acknowledged. */
function writeThenKill(dir: string, acks: number): Promise<Map<number, number[]>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', 'crash-writer.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Map<number, number[]>();
    let count = 0;
    let buffer = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const [, n, i] = line.split(' ');
        if (!acked.has(+n)) acked.set(+n, []);
        acked.get(+n)!.push(+i);
        if (++count === acks) child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`crash-writer exited with ${code} before being killed: ${stderr}`));
    });
  });
}

describe('storage after a crash mid-write', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => ({ dir, remove } = await tempDir('sb-crash-')));
  after(() => remove());

  let acked: Map<number, number[]>;
  before(async () => {
    acked = await writeThenKill(dir, ACKS_BEFORE_KILL);
  });

  it('leaves every state file readable as complete JSON', async () => {
    const files = (await listFiles(dir)).filter((f) => f.startsWith('state/') && f.endsWith('.json'));
    expect(files.length).to.be.greaterThan(ACKS_BEFORE_KILL / 2);
    for (const f of files) JSON.parse(await readFile(path.join(dir, f), 'utf8')); // throws if torn
  });

  it('leaves every transcript and index file as whole JSON lines, except at most a torn last line', async () => {
    const files = (await listFiles(dir)).filter((f) => f.endsWith('.jsonl'));
    expect(files.length).to.be.greaterThan(0);
    for (const f of files) {
      const text = await readFile(path.join(dir, f), 'utf8');
      const lines = text.split('\n');
      const last = lines.pop()!; // '' when the file ends with a newline, else a line torn by the kill
      for (const line of lines) if (line) JSON.parse(line);
      if (last) expect(() => JSON.parse(last), `${f} ends with a complete line without newline`).to.throw();
    }
  });

  it('keeps every state write the killed process acknowledged', async () => {
    const storage = new LowdbStorage({ dir });
    for (const [n, steps] of acked) {
      const keys = steps.map((i) => `item/${n}/${i}`);
      const items = await storage.read(keys);
      expect(Object.keys(items)).to.have.members(keys);
      const hot = (await storage.read([`hot/${n}`]))[`hot/${n}`];
      expect(hot.i).to.be.at.least(Math.max(...steps)); // overwritten in place, never older than the last ack
    }
  });

  it('keeps every transcript activity the killed process acknowledged, and the store keeps working', async () => {
    const store = new LowdbTranscriptStore({ dir });
    const stored = new Set<string>();
    for (const t of await store.allTranscripts('test')) for (const a of await store.readTranscript('test', t.id)) stored.add(a.id!);
    for (const [n, steps] of acked) for (const i of steps) expect(stored.has(`L${n}-${i}`), `L${n}-${i}`).to.equal(true);
    await store.logActivity({ type: 'message', id: 'after-crash', channelId: 'test', conversation: { id: 'conv-0-0' }, timestamp: new Date() } as never);
    expect((await store.readTranscript('test', 'conv-0-0')).map((a) => a.id)).to.include('after-crash');
  });
});
