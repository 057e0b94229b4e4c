import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KnowledgeFolderError, loadKnowledge, parseKnowledgeFile, parseKnowledgeFiles } from '../../src/knowledge/loader.js';
import { FRONT_MATTER_FIELDS } from '../../src/knowledge/schema.js';
import { formatProblem } from '../../src/knowledge/types.js';

/** A knowledge file from front matter lines and an answer. */
function md(frontMatter: string[], answer = 'The answer.'): string {
  return ['---', ...frontMatter, '---', answer, ''].join('\n');
}

/** The problems of one file, formatted as `kb check` prints them. */
function problemsOf(relPath: string, text: string): string[] {
  return parseKnowledgeFile(relPath, text).problems.map(formatProblem);
}

function folderProblems(files: Record<string, string>): string[] {
  return parseKnowledgeFiles(Object.entries(files).map(([p, text]) => ({ path: p, text }))).problems.map(formatProblem);
}

describe('knowledge loader', () => {
  describe('a valid file', () => {
    it('becomes an entry with defaults and the id taken from its path', () => {
      const parsed = parseKnowledgeFile('billing/pay-by-card.md', md(['question: How can I pay by card?', 'alternates:', '  - pay with visa'], '  Pay **now**.\n'));
      expect(parsed.problems).to.deep.equal([]);
      expect(parsed.entry).to.deep.equal({
        id: 'billing/pay-by-card',
        question: 'How can I pay by card?',
        alternates: ['pay with visa'],
        answer: 'Pay **now**.',
        tags: [],
        locale: 'en',
        channels: undefined,
        handoff: false,
        validFrom: undefined,
        validUntil: undefined,
        followUps: [],
        source: { path: 'billing/pay-by-card.md', line: 1 },
      });
    });

    it('keeps every field of the DESIGN.md example', () => {
      const { entry, problems } = parseKnowledgeFile(
        'x.md',
        md([
          'id: billing/pay-by-card        # optional',
          'question: How can I pay my bill by card?',
          'alternates:',
          '  - pay invoice with credit card',
          'tags: [billing]',
          'locale: en-GB',
          'channels: [webchat, whatsapp]',
          'handoff: true',
          'valid_from: 2026-11-01',
          'valid_until: 2026-12-31',
          'follow_ups: [billing/due-date]',
        ]),
      );
      expect(problems).to.deep.equal([]);
      expect(entry).to.include({ id: 'billing/pay-by-card', locale: 'en-GB', handoff: true, validFrom: '2026-11-01', validUntil: '2026-12-31' });
      expect(entry!.channels).to.deep.equal(['webchat', 'whatsapp']);
      expect(entry!.followUps).to.deep.equal(['billing/due-date']);
    });

    it('accepts Windows line endings and a byte order mark', () => {
      const { entry, problems } = parseKnowledgeFile('win.md', '\uFEFF---\r\nquestion: Hello?\r\n---\r\nHi.\r\n');
      expect(problems).to.deep.equal([]);
      expect(entry?.answer).to.equal('Hi.');
    });

    it('uses forward slashes in ids whatever the path separator', () => {
      expect(parseKnowledgeFile('billing\\due.md', md(['question: When?'])).entry?.id).to.equal('billing/due');
    });
  });

  describe('reports', () => {
    it('bad YAML at the line of the mistake, in plain words', () => {
      expect(problemsOf('a.md', md(['question: Why?', 'tags: [billing', 'locale: en']))).to.deep.equal([
        'a.md:3: the list is not closed: add "]" at its end, e.g. [billing, payments]',
      ]);
      expect(problemsOf('b.md', md(['tags: [x]', 'question: "Why?', 'locale: en']))).to.deep.equal(['b.md:3: the quote is not closed: add " at the end of the text']);
    });

    it('a repeated field at the second one, naming the first', () => {
      expect(problemsOf('a.md', md(['question: Why?', 'question: How?']))).to.deep.equal(['a.md:3: "question" is written twice (also on line 2): keep one of them']);
    });

    describe("the common YAML mistakes, each on file line 4 (the front matter's opening --- is line 1)", () => {
      const onLine4 = (line4: string, before = ['question: How do I pay?', 'locale: en'], after = ['tags: [billing]']) =>
        problemsOf('billing/pay.md', md([...before, line4, ...after]));

      it('a tab used to indent', () => {
        expect(onLine4('\t- pay by card', ['question: How do I pay?', 'alternates:'])).to.deep.equal([
          'billing/pay.md:4: a tab is used to indent this line: YAML needs spaces (two spaces per level)',
        ]);
      });

      it('a field indented under the one above', () => {
        expect(onLine4('  handoff: true')).to.deep.equal([
          'billing/pay.md:4: "handoff" is indented: every field starts at the beginning of its line (remove the spaces before "handoff:")',
        ]);
      });

      it('a list item indented differently from the one above', () => {
        expect(onLine4(' - pay with visa', ['alternates:', '  - pay by card'], ['question: How do I pay?'])).to.deep.equal([
          'billing/pay.md:4: this list item is indented by 1 space, the one on line 3 by 2: put the "-" of every item under the same column',
        ]);
      });

      it('a missing colon after the field name', () => {
        expect(onLine4('handoff true')).to.deep.equal(['billing/pay.md:4: missing ":" after "handoff": write handoff: true']);
        expect(onLine4('tags [billing]', undefined, ['handoff: true'])).to.deep.equal(['billing/pay.md:4: missing ":" after "tags": write tags: [billing]']);
        expect(onLine4('alternates', undefined, ['  - pay by card'])).to.deep.equal(['billing/pay.md:4: missing ":" after "alternates": write alternates: ...']);
      });

      it('an unclosed quote, where it was opened, also in a list item', () => {
        expect(onLine4('id: "billing/pay')).to.deep.equal(['billing/pay.md:4: the quote is not closed: add " at the end of the text']);
        expect(onLine4("  - 'pay by card", ['question: How do I pay?', 'alternates:'])).to.deep.equal([
          "billing/pay.md:4: the quote is not closed: add ' at the end of the text",
        ]);
      });

      it('text with ": " that needs quotes', () => {
        expect(onLine4('alternates: cost: how much is it')).to.deep.equal([
          'billing/pay.md:4: text with ": " in it must be in double quotes: alternates: "cost: how much is it"',
        ]);
      });

      it('an unclosed list', () => {
        expect(onLine4('tags: [billing, payments', undefined, ['handoff: true'])).to.deep.equal([
          'billing/pay.md:4: the list is not closed: add "]" at its end, e.g. [billing, payments]',
        ]);
      });

      it("leaves apostrophes and quoted colons alone", () => {
        expect(problemsOf('a.md', md(["question: Can't I pay?", 'alternates:', "  - it's late", '  - "cost: how much"']))).to.deep.equal([]);
      });
    });

    it('a file without front matter', () => {
      expect(problemsOf('notes/todo.md', '# Just notes\n')).to.have.length(1);
      expect(problemsOf('notes/todo.md', '# Just notes\n')[0]).to.match(/^notes\/todo\.md:1: missing front matter/);
    });

    it('front matter that is never closed', () => {
      expect(problemsOf('a.md', '---\nquestion: Why?\nNo closing line\n')[0]).to.match(/^a\.md:1: front matter is not closed/);
    });

    it('front matter that is not fields', () => {
      expect(problemsOf('a.md', md(['- just', '- a list']))).to.deep.equal(['a.md:2: front matter must be fields written as "name: value", one per line']);
    });

    it('a missing question', () => {
      expect(problemsOf('a.md', md(['tags: [billing]']))).to.deep.equal(['a.md:1: missing "question": every entry needs the question customers ask']);
    });

    it('an empty question at its line', () => {
      expect(problemsOf('a.md', md(['tags: [billing]', 'question: "  "']))).to.deep.equal(['a.md:3: "question" is empty']);
    });

    it('a missing answer at the closing line', () => {
      expect(problemsOf('a.md', md(['question: Why?'], '   \n'))).to.deep.equal(['a.md:3: missing answer: write the answer below the closing "---"']);
    });

    it('an unknown field, suggesting the closest known one', () => {
      expect(problemsOf('billing/pay.md', md(['question: Why?', 'alternate:', '  - why though']))).to.deep.equal([
        'billing/pay.md:3: unknown field "alternate" (did you mean "alternates"?)',
      ]);
      expect(problemsOf('a.md', md(['question: Why?', 'validUntil: 2026-12-31']))).to.deep.equal([
        'a.md:3: unknown field "validUntil" (did you mean "valid_until"?)',
      ]);
    });

    it('an unknown field unlike any known one, listing the known fields', () => {
      expect(problemsOf('a.md', md(['question: Why?', 'colour: blue']))[0]).to.equal(`a.md:3: unknown field "colour" (known fields: ${FRONT_MATTER_FIELDS.join(', ')})`);
      expect(FRONT_MATTER_FIELDS).to.include.members(['id', 'question', 'alternates', 'tags', 'locale', 'channels', 'handoff', 'valid_from', 'valid_until', 'follow_ups']);
    });

    it('wrong types at the line of the value', () => {
      expect(problemsOf('a.md', md(['question: Why?', 'tags: billing', 'handoff: yes', 'alternates:', '  - fine', '  - [nested]']))).to.deep.equal([
        'a.md:3: "tags" must be a list of words, e.g. [billing, payments], got "billing"',
        'a.md:4: "handoff" must be true or false, got "yes"',
        'a.md:7: "alternates" item 2 must be text, got a list',
      ]);
    });

    it('a field left without a value at its key', () => {
      expect(problemsOf('a.md', md(['question: Why?', 'alternates:']))).to.deep.equal([
        'a.md:3: "alternates" must be a list of texts, one per line starting with "- ", got nothing',
      ]);
    });

    it('bad dates', () => {
      expect(problemsOf('a.md', md(['question: Why?', 'valid_from: 2026-02-30', 'valid_until: 31/12/2026']))).to.deep.equal([
        'a.md:3: "valid_from" is not a date: got "2026-02-30" (write YYYY-MM-DD)',
        'a.md:4: "valid_until" is not a date: got "31/12/2026" (write YYYY-MM-DD)',
      ]);
    });

    it('valid_until before valid_from at valid_until', () => {
      expect(problemsOf('offers/x.md', md(['question: Deal?', 'valid_from: 2026-12-01', 'valid_until: 2026-11-30']))).to.deep.equal([
        'offers/x.md:4: valid_until is before valid_from: the entry would never be shown',
      ]);
    });

    it('unknown channels, listing the valid ones', () => {
      expect(problemsOf('a.md', md(['question: Why?', 'channels:', '  - webchat', '  - sms']))).to.deep.equal([
        'a.md:5: unknown channel "sms" (valid channels: webchat, messenger, whatsapp)',
      ]);
    });

    it('an id with spaces and a bad locale', () => {
      expect(problemsOf('a.md', md(['id: my entry', 'question: Why?', 'locale: english please']))).to.deep.equal([
        'a.md:2: "id" must not contain spaces, got "my entry"',
        'a.md:4: "locale" must be a language tag such as en or en-GB, got "english please"',
      ]);
    });

    it('duplicate ids, naming both files', () => {
      const problems = folderProblems({
        'billing/pay.md': md(['question: How do I pay?']),
        'old/pay.md': md(['question: Pay?', 'id: billing/pay']),
      });
      expect(problems).to.deep.equal(['old/pay.md:3: duplicate id "billing/pay": already used by billing/pay.md:1 (give one of them another id)']);
    });

    it('follow_ups naming unknown ids at the line of the item, suggesting a close one', () => {
      const problems = folderProblems({
        'billing/pay.md': md(['question: How do I pay?', 'follow_ups:', '  - billing/due-date', '  - billing/due-dat', '  - nowhere/at-all']),
        'billing/due-date.md': md(['question: When is it due?']),
      });
      expect(problems).to.deep.equal([
        'billing/pay.md:5: follow_ups names unknown id "billing/due-dat" (did you mean "billing/due-date"?)',
        'billing/pay.md:6: follow_ups names unknown id "nowhere/at-all"',
      ]);
    });

    it('a follow-up to the entry itself', () => {
      expect(folderProblems({ 'a.md': md(['question: Why?', 'follow_ups: [a]']) })).to.deep.equal(['a.md:3: follow_ups names the entry itself ("a")']);
    });

    it('every problem of every file at once, in file and line order', () => {
      const problems = folderProblems({
        'b.md': md(['question: ""', 'alternate: [x]', 'channels: [sms]', 'valid_from: 2026-12-01', 'valid_until: 2026-11-01', 'follow_ups: [ghost]'], ''),
        'a.md': 'no front matter\n',
        'c.md': md(['question: Fine?']),
      });
      expect(problems).to.deep.equal([
        'a.md:1: missing front matter: start the file with a line "---", then "question: ..." and the other fields, then "---" and the answer',
        'b.md:2: "question" is empty',
        'b.md:3: unknown field "alternate" (did you mean "alternates"?)',
        'b.md:4: unknown channel "sms" (valid channels: webchat, messenger, whatsapp)',
        'b.md:6: valid_until is before valid_from: the entry would never be shown',
        'b.md:7: follow_ups names unknown id "ghost"',
        'b.md:8: missing answer: write the answer below the closing "---"',
      ]);
    });

    it('no unknown follow-up for an entry whose own file is broken', () => {
      const problems = folderProblems({ 'a.md': md(['question: Why?', 'follow_ups: [b]']), 'b.md': md(['question: [broken']) });
      expect(problems).to.have.length(1);
      expect(problems[0]).to.equal('b.md:2: the list is not closed: add "]" at its end, e.g. [billing, payments]');
    });
  });

  describe('with a parse cache', () => {
    it('parses again only the files whose text changed, and forgets deleted ones', () => {
      const cache = new Map();
      const first = parseKnowledgeFiles([{ path: 'a.md', text: md(['question: A?']) }, { path: 'b.md', text: md(['question: B?']) }], cache);
      const second = parseKnowledgeFiles([{ path: 'a.md', text: md(['question: A?']) }, { path: 'b.md', text: md(['question: B again?']) }], cache);
      expect(second.entries[0]).to.equal(first.entries[0]);
      expect(second.entries[1]!.question).to.equal('B again?');
      parseKnowledgeFiles([{ path: 'a.md', text: md(['question: A?']) }], cache);
      expect([...cache.keys()]).to.deep.equal(['a.md']);
    });
  });

  describe('loadKnowledge', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'kb-loader-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('reads .md files in every subfolder, skipping READMEs, hidden files and other files', async () => {
      await mkdir(path.join(dir, 'billing', 'cards'), { recursive: true });
      await mkdir(path.join(dir, '.git'));
      await writeFile(path.join(dir, 'hello.md'), md(['question: Hello']));
      await writeFile(path.join(dir, 'billing', 'cards', 'visa.md'), md(['question: Visa?']));
      await writeFile(path.join(dir, 'README.md'), '# How to write entries\n');
      await writeFile(path.join(dir, 'billing', 'readme.md'), 'notes for editors\n');
      await writeFile(path.join(dir, '.git', 'x.md'), 'not knowledge\n');
      await writeFile(path.join(dir, '.hello.md.swp'), 'swap');
      await writeFile(path.join(dir, 'notes.txt'), 'ignored');
      const loaded = await loadKnowledge(dir);
      expect(loaded.problems).to.deep.equal([]);
      expect(loaded.files).to.equal(2);
      expect(loaded.entries.map((e) => e.id)).to.deep.equal(['billing/cards/visa', 'hello']);
    });

    it('reports problems with paths relative to the folder', async () => {
      await mkdir(path.join(dir, 'plans'));
      await writeFile(path.join(dir, 'plans', 'bad.md'), md(['question: Why?', 'alternate: [x]']));
      const loaded = await loadKnowledge(dir);
      expect(loaded.problems.map(formatProblem)).to.deep.equal(['plans/bad.md:3: unknown field "alternate" (did you mean "alternates"?)']);
      expect(loaded.entries).to.deep.equal([]);
    });

    it('fails with KnowledgeFolderError when the folder does not exist', async () => {
      const missing = path.join(dir, 'nope');
      const err = await loadKnowledge(missing).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KnowledgeFolderError);
      expect((err as Error).message).to.contain(`${missing} does not exist`);
    });

    it('loads the sample knowledge without problems', async () => {
      const loaded = await loadKnowledge('knowledge');
      expect(loaded.problems.map(formatProblem)).to.deep.equal([]);
      expect(loaded.entries.length).to.be.at.least(45);
      const human = loaded.entries.find((e) => e.id === 'support/talk-to-a-human');
      expect(human).to.include({ handoff: true });
      expect(human!.tags).to.deep.equal(['handoff-request']);
    });
  });
});
