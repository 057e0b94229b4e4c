import { expect } from 'chai';
import { readsAsQuestion, recognizeDetail, recognizePick, recognizeYesNo } from '../../src/bot/choices.js';

const offered = [
  { value: 'billing/card', title: 'How can I pay my bill by card?' },
  { value: 'billing/due', title: 'When is my bill due?' },
  { value: 'billing/refund', title: 'How do I get a refund?' },
];

describe('choice recognition', () => {
  const picks: [string, string][] = [
    ['How can I pay my bill by card?', 'billing/card'],
    ['2', 'billing/due'],
    ['number 2', 'billing/due'],
    ['the second one', 'billing/due'],
    ['third', 'billing/refund'],
    ['the 3rd', 'billing/refund'],
    ['refund', 'billing/refund'],
    ['the refund one', 'billing/refund'],
    ['pay by card', 'billing/card'],
  ];
  for (const [reply, id] of picks) {
    it(`reads "${reply}" as picking ${id}`, () => {
      expect(recognizePick(reply, offered)).to.include({ kind: 'picked', value: id });
    });
  }

  it('reads a bare "yes" as taking the only suggestion, and not one of several', () => {
    expect(recognizePick('yes', offered.slice(0, 1))).to.include({ kind: 'picked', value: 'billing/card' });
    expect(recognizePick('yes', offered)).to.deep.equal({ kind: 'no-pick' });
  });

  for (const reply of ['none of these', 'None of these', 'neither', '4', 'no']) {
    it(`reads "${reply}" as declining every suggestion`, () => {
      expect(recognizePick(reply, offered)).to.deep.equal({ kind: 'none-of-these' });
    });
  }

  for (const reply of ['I have 2 bills due today', 'where is my parcel', 'how do I pay in cash', 'the last one', 'the fifth']) {
    it(`reads "${reply}" as no pick (a new question, or out of range)`, () => {
      expect(recognizePick(reply, offered)).to.deep.equal({ kind: 'no-pick' });
    });
  }

  const booleans: [string, { value: boolean; alone: boolean } | undefined][] = [
    ['Yes', { value: true, alone: true }],
    ['yes thanks', { value: true, alone: true }],
    ['yeah it did', { value: true, alone: true }],
    ['No', { value: false, alone: true }],
    ['nope', { value: false, alone: true }],
    ['No, it did not', { value: false, alone: true }],
    ['no, the app crashes', { value: false, alone: false }],
    ['how do I change my address', undefined],
    ['no, how do I change my billing address', undefined],
    ['', undefined],
  ];
  for (const [reply, expected] of booleans) {
    it(`reads "${reply}" as ${expected === undefined ? 'neither yes nor no' : expected.value ? 'yes' : 'no'}${expected && !expected.alone ? ' with more said' : ''}`, () => {
      expect(recognizeYesNo(reply)).to.deep.equal(expected);
    });
  }

  const details: [string, Parameters<typeof recognizeDetail>[1], string | undefined][] = [
    ['SW1A 1AA', 'postcode', 'SW1A 1AA'],
    ["it's m1 1ae", 'postcode', 'M1 1AE'],
    ['94105', 'postcode', '94105'],
    ['no idea sorry', 'postcode', undefined],
    ['call me on 07700 900123', 'phone', '07700 900123'],
    ['ana@example.com please', 'email', 'ana@example.com'],
    ['order NM-558812', 'number', 'NM-558812'],
    ['I ordered it on Monday', 'number', undefined],
  ];
  for (const [reply, kind, value] of details) {
    it(`finds ${value === undefined ? 'no ' + kind : `the ${kind} ${value}`} in "${reply}"`, () => {
      expect(recognizeDetail(reply, kind)).to.equal(value);
    });
  }

  it('tells a question from a statement', () => {
    expect(readsAsQuestion('how do i pay my bill')).to.equal(true);
    expect(readsAsQuestion('whats my pin?')).to.equal(true);
    expect(readsAsQuestion('charged £12 on 14 Nov for a data add-on')).to.equal(false);
  });
});
