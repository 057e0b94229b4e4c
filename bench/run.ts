/**
 * `npm run bench [-- NAME ...]` runs the benchmark modules (all by default) one after another and
 * writes their sections into BENCHMARKS.md. Running a subset replaces only those sections, so the
 * file always holds the latest figure of every benchmark together with the command that made it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchSection } from './types.js';

/** In the order they run; each is bench/<name>.ts exporting run(). */
export const BENCHMARKS = ['search', 'reload', 'storage', 'webchat', 'meta', 'meta-batch', 'handoff', 'stall', 'faults', 'load', 'scale', 'analytics', 'kb-diff'] as const;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outFile = path.join(root, 'BENCHMARKS.md');
const BEGIN = (name: string) => `<!-- bench:${name} -->`;
const END = (name: string) => `<!-- /bench:${name} -->`;

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

function render(name: string, section: BenchSection): string {
  return [
    BEGIN(name),
    `## ${section.title}`,
    '',
    `Command: \`${section.command}\` — measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}.`,
    '',
    section.markdown.trim(),
    END(name),
  ].join('\n');
}

async function main() {
  const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = asked.filter((a) => !(BENCHMARKS as readonly string[]).includes(a));
  if (unknown.length) {
    console.error(`bench: unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.join(', ')}`);
    process.exit(2);
  }
  const names = (asked.length ? asked : BENCHMARKS).filter((n) => existsSync(path.join(root, 'bench', `${n}.ts`)));
  let doc = existsSync(outFile)
    ? readFileSync(outFile, 'utf8')
    : '# Benchmarks\n\nEvery figure below is produced by `npm run bench` (or the single benchmark named with it) on the machine named in its section. Goals come from the issues; a figure that misses its goal says so.\n';
  let failed = 0;
  for (const name of names) {
    console.error(`bench: running ${name} ...`);
    try {
      const mod = (await import(pathToFileURL(path.join(root, 'bench', `${name}.ts`)).href)) as { run: () => Promise<BenchSection> };
      const section = await mod.run();
      const block = render(name, section);
      const re = new RegExp(`${BEGIN(name)}[\\s\\S]*?${END(name)}`);
      doc = re.test(doc) ? doc.replace(re, () => block) : `${doc.trimEnd()}\n\n${block}\n`;
      writeFileSync(outFile, doc);
      console.log(block + '\n');
    } catch (err) {
      failed++;
      console.error(`bench: ${name} failed: ${(err as Error).stack ?? err}`);
    }
  }
  console.error(`bench: wrote ${path.relative(process.cwd(), outFile)} (${names.length - failed} of ${names.length} benchmarks)`);
  process.exit(failed ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
