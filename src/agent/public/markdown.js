// Renders the bot's (and agents') Markdown for the console's transcript, safely: raw HTML in the text
// is shown as text, links open in a new tab without an opener, and only http(s), mailto and tel links
// survive. marked's browser build is served from node_modules by the agent API (no CDN).
// Customer messages never come here: the console shows them as plain text.
import { Marked } from './marked.js';

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** Link targets a transcript may open; anything else (javascript:, data:, relative paths) is shown as its text. */
const SAFE_HREF = /^(https?:|mailto:|tel:)/i;

const marked = new Marked({ gfm: true, breaks: true, async: false });
marked.use({
  renderer: {
    // Raw HTML in an answer (or typed by anyone) is text, never markup.
    html(token) {
      return escapeHtml(token.text);
    },
    link(token) {
      const text = this.parser.parseInline(token.tokens);
      const href = String(token.href ?? '').trim();
      if (!SAFE_HREF.test(href)) return text;
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
      return `<a href="${escapeHtml(href)}"${title} rel="noopener noreferrer" target="_blank">${text}</a>`;
    },
    // No remote images in the console: the alt text stands in.
    image(token) {
      return escapeHtml(token.text);
    },
  },
});

// Second line of defence: whatever marked produced, only these elements and attributes reach the page.
const ALLOWED = new Set(['P', 'BR', 'STRONG', 'B', 'EM', 'I', 'DEL', 'S', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'OL', 'LI', 'A', 'HR',
  'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD']);
const ALLOWED_ATTRIBUTES = { A: ['href', 'title', 'rel', 'target'], OL: ['start'], TH: ['align'], TD: ['align'] };

function clean(node) {
  for (const child of [...node.children]) {
    if (!ALLOWED.has(child.tagName)) {
      child.replaceWith(document.createTextNode(child.textContent || ''));
      continue;
    }
    const keep = ALLOWED_ATTRIBUTES[child.tagName] || [];
    for (const attr of [...child.attributes]) if (!keep.includes(attr.name)) child.removeAttribute(attr.name);
    if (child.tagName === 'A') {
      if (!SAFE_HREF.test(child.getAttribute('href') || '')) child.removeAttribute('href');
      child.setAttribute('rel', 'noopener noreferrer');
      child.setAttribute('target', '_blank');
    }
    clean(child);
  }
}

/** A fragment of safe DOM for `text` read as Markdown. */
export function renderMarkdown(text) {
  const template = document.createElement('template');
  template.innerHTML = marked.parse(String(text ?? ''));
  clean(template.content);
  return template.content;
}
