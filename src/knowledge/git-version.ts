/**
 * A knowledge folder as it was at a git revision, for `kb diff --before REV` (default HEAD): the folder's
 * files at that commit (`git archive`) unpacked into a temporary folder, which `cleanup` removes.
 * Nothing in the work tree or the git index is touched.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KnowledgeFolderError } from './loader.js';

const run = promisify(execFile);

/** A folder as of a revision, and how to remove it. */
export interface GitVersion {
  dir: string;
  /** `HEAD:knowledge`, for messages. */
  label: string;
  cleanup(): Promise<void>;
}

async function git(cwd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', cwd, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new KnowledgeFolderError('git is not installed: give the earlier version as a folder with --before DIR');
    throw Object.assign(new Error((e.stderr ?? e.message).trim()), { stderr: e.stderr ?? '' });
  }
}

/** Pipes `git archive` of `paths` at `rev` into `tar -x` in `into`. */
function unpack(cwd: string, rev: string, paths: string[], into: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const archive = spawn('git', ['-C', cwd, 'archive', '--format=tar', rev, '--', ...paths], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-C', into], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    archive.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    archive.stdout.pipe(tar.stdin);
    let pending = 2;
    let failed = false;
    const done = (code: number | null) => {
      if (code !== 0) failed = true;
      if (--pending === 0) (failed ? reject(new Error(stderr.trim() || 'git archive failed')) : resolve());
    };
    archive.on('error', reject);
    tar.on('error', reject);
    archive.on('close', done);
    tar.on('close', done);
  });
}

/**
 * The knowledge folder `dir` (inside a git work tree) as it was at `rev`. Throws `KnowledgeFolderError`
 * with what to do when `dir` is not in a git work tree, `rev` is unknown, or the folder did not exist then.
 */
export async function knowledgeAtRevision(dir: string, rev: string): Promise<GitVersion> {
  let prefix: string;
  try {
    if ((await git(dir, ['rev-parse', '--is-inside-work-tree'])) !== 'true') throw new Error('not a work tree');
    prefix = await git(dir, ['rev-parse', '--show-prefix']);
  } catch (err) {
    if (err instanceof KnowledgeFolderError) throw err;
    throw new KnowledgeFolderError(`${dir} is not in a git repository, so there is no earlier version to compare with: give it with --before DIR (or --before GIT-REV inside a repository)`);
  }
  try {
    await git(dir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  } catch {
    throw new KnowledgeFolderError(`"${rev}" is not a commit of the repository of ${dir} (a branch, tag or commit id such as HEAD~1 or main; or --before DIR)`);
  }
  const top = await git(dir, ['rev-parse', '--show-toplevel']);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'kb-diff-'));
  const cleanup = () => rm(tmp, { recursive: true, force: true });
  const folder = prefix.replace(/\/$/, '');
  try {
    await unpack(top, rev, [folder || '.'], tmp);
  } catch (err) {
    await cleanup();
    const message = (err as Error).message;
    if (/did not match any files|pathspec/i.test(message)) throw new KnowledgeFolderError(`${folder || dir} did not exist at ${rev}: nothing to compare with (give --before DIR or another revision)`);
    throw new KnowledgeFolderError(`could not read ${folder || dir} at ${rev}: ${message}`);
  }
  return { dir: path.join(tmp, folder), label: `${rev}:${folder || '.'}`, cleanup };
}
