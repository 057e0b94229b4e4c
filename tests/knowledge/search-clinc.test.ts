import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { evaluate, parseCases } from '../../src/knowledge/eval-cli.js';
import { loadKnowledge } from '../../src/knowledge/loader.js';
import { KnowledgeIndex } from '../../src/knowledge/search.js';

const CLINC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/bench/clinc150');

describe('knowledge search on CLINC150 (5-shot)', function () {
  before(function () {
    // The benchmark data lives beside the project (../shared/bench); a bare clone has no copy of it.
    if (!existsSync(path.join(CLINC, 'knowledge-5shot'))) this.skip();
  });

  it('ranks the right entry first for at least 70 % and in the top three for at least 85 % of dev queries', async () => {
    const loaded = await loadKnowledge(path.join(CLINC, 'knowledge-5shot'));
    expect(loaded.problems).to.deep.equal([]);
    const cases = parseCases(await readFile(path.join(CLINC, 'dev.jsonl'), 'utf8'), 'dev.jsonl');
    const report = evaluate(KnowledgeIndex.build(loaded.entries), cases);
    expect(report.top1).to.be.at.least(70);
    expect(report.top3).to.be.at.least(85);
  });
});
