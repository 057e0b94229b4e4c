import { expect } from 'chai';
import { EvalError, evaluate, parseCases } from '../../src/knowledge/eval-cli.js';
import type { KnowledgeSearcher, SearchMatch } from '../../src/knowledge/types.js';

function match(id: string, confidence: number): SearchMatch {
  return {
    entry: { id, question: id, alternates: [], answer: '', tags: [], locale: 'en', handoff: false, followUps: [], source: { path: id, line: 1 } },
    confidence,
  };
}

/** A searcher with canned rankings, so the figures can be worked out by hand. */
function cannedSearcher(results: Record<string, SearchMatch[]>): KnowledgeSearcher {
  return {
    search: (q) => results[q] ?? [],
    decide: () => {
      throw new Error('evaluate must use search + the default decision');
    },
    get: () => undefined,
  };
}

describe('knowledge eval', () => {
  it('computes top-1, top-3, in-scope accuracy and out-of-scope recall and precision', () => {
    const searcher = cannedSearcher({
      'right and sure': [match('a', 0.9), match('b', 0.2)],
      'right but unsure': [match('a', 0.4), match('b', 0.3)],
      'second place': [match('b', 0.8), match('a', 0.7)],
      'third place': [match('c', 0.9), match('b', 0.5), match('a', 0.1)],
      'off topic, rejected': [match('a', 0.1)],
      'off topic, answered': [match('b', 0.95)],
    });
    const report = evaluate(searcher, [
      { query: 'right and sure', expected: 'a' },
      { query: 'right but unsure', expected: 'a' },
      { query: 'second place', expected: 'a' },
      { query: 'third place', expected: 'a' },
      { query: 'off topic, rejected', expected: 'out_of_scope' },
      { query: 'off topic, answered', expected: 'out_of_scope' },
    ]);
    expect(report).to.include({ cases: 6, top1: 50, top3: 100, inScopeAccuracy: 25, oosRecall: 50, oosPrecision: 50 });
    expect(report.p99Ms).to.be.at.least(report.p50Ms);
  });

  it('reads JSON Lines cases and names the line of a bad one', () => {
    expect(parseCases('{"query":"hi","expected":"smalltalk/hello"}\n\n{"query":"x","expected":"out_of_scope"}\n')).to.have.length(2);
    expect(() => parseCases('{"query":"hi","expected":"a"}\n{"query":1}', 'dev.jsonl')).to.throw(EvalError, 'dev.jsonl:2:');
    expect(() => parseCases('not json', 'dev.jsonl')).to.throw(EvalError, 'dev.jsonl:1: not JSON');
  });
});
