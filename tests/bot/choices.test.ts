import { expect } from 'chai';
import { recognizePick, recognizeYesNo } from '../../src/bot/choices.js';

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

  for (const reply of ['none of these', 'None of these', 'neither', '4']) {
    it(`reads "${reply}" as declining every suggestion`, () => {
      expect(recognizePick(reply, offered)).to.deep.equal({ kind: 'none-of-these' });
    });
  }

  for (const reply of ['I have 2 bills due today', 'where is my parcel', 'how do I pay in cash', 'the last one', 'the fifth']) {
    it(`reads "${reply}" as no pick (a new question, or out of range)`, () => {
      expect(recognizePick(reply, offered)).to.deep.equal({ kind: 'no-pick' });
    });
  }

  const booleans: [string, boolean | undefined][] = [
    ['Yes', true],
    ['yes thanks', true],
    ['yeah it did', true],
    ['No', false],
    ['nope', false],
    ['No, it did not', false],
    ['how do I change my address', undefined],
    ['', undefined],
  ];
  for (const [reply, value] of booleans) {
    it(`reads "${reply}" as ${value === undefined ? 'neither yes nor no' : value ? 'yes' : 'no'}`, () => {
      expect(recognizeYesNo(reply)).to.equal(value);
    });
  }
});
