import { expect } from 'chai';
import { markdownToPlatformText, splitText, truncate } from '../../adapters/shared/text.js';

describe('Meta text helpers', () => {
  const md = '# Paying\nPay in the app under **Billing → Pay now**, or at *any* store. See [our site](https://example.com) or ~~the old form~~.\n\n- by card\n- in cash';

  it('turns Markdown into WhatsApp formatting', () => {
    expect(markdownToPlatformText(md, 'whatsapp')).to.equal(
      '*Paying*\n\nPay in the app under *Billing → Pay now*, or at _any_ store. See our site (https://example.com) or ~the old form~.\n\n• by card\n• in cash',
    );
  });

  it('turns Markdown into plain text for Messenger', () => {
    expect(markdownToPlatformText(md, 'plain')).to.equal(
      'Paying\n\nPay in the app under Billing → Pay now, or at any store. See our site (https://example.com) or the old form.\n\n• by card\n• in cash',
    );
  });

  it('shows a link once when its label is the address', () => {
    expect(markdownToPlatformText('Go to [example.com/pay](https://example.com/pay/) now', 'plain')).to.equal('Go to https://example.com/pay/ now');
  });

  it('splits long text at sentence ends, each chunk within the limit', () => {
    const text = Array.from({ length: 60 }, (_, i) => `Sentence ${i + 1} is here.`).join(' ');
    const chunks = splitText(text, 100);
    expect(chunks.length).to.be.greaterThan(1);
    for (const c of chunks) {
      expect(c.length).to.be.at.most(100);
      expect(c).to.match(/^Sentence \d+ .*here\.$/);
    }
    expect(chunks.join(' ')).to.equal(text);
  });

  it('cuts a word longer than the limit without splitting a surrogate pair', () => {
    const chunks = splitText('😀'.repeat(10), 5);
    for (const c of chunks) expect(c.length).to.be.at.most(5);
    expect(chunks.join('')).to.equal('😀'.repeat(10));
  });

  it('truncates titles with an ellipsis', () => {
    expect(truncate('Opening hours on public holidays', 20)).to.equal('Opening hours on pu…');
    expect(truncate('Short', 20)).to.equal('Short');
  });
});
