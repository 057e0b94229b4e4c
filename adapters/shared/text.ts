/**
 * Text helpers shared by the Meta channels: Markdown (what knowledge entries are written in) turned
 * into each platform's own text, and long text split on sentence boundaries to fit a platform limit.
 */
import { Lexer, type Token, type Tokens } from 'marked';

/**
 * How a platform shows emphasis: WhatsApp has its own `*bold*`, `_italic_`, `~strike~` and
 * backtick code; Messenger shows plain text only.
 * @see https://faq.whatsapp.com/539178204879377 (WhatsApp text formatting)
 */
export type TextStyle = 'whatsapp' | 'plain';

/**
 * Converts Markdown to the platform's text: `**bold**` → `*bold*` (WhatsApp) or `bold` (plain),
 * `[label](url)` → `label (url)`, headings become a bold line, lists keep a `•` bullet.
 * @example markdownToPlatformText('Pay under **Billing → Pay now**', 'whatsapp') // 'Pay under *Billing → Pay now*'
 */
export function markdownToPlatformText(markdown: string, style: TextStyle): string {
  const tokens = new Lexer({ gfm: true }).lex(markdown);
  const out = blocks(tokens, style).join('\n\n');
  return out.replace(/\n{3,}/g, '\n\n').trim();
}

function blocks(tokens: Token[], style: TextStyle): string[] {
  const out: string[] = [];
  for (const t of tokens) {
    switch (t.type) {
      case 'space':
      case 'hr':
        break;
      case 'heading': {
        const text = inline((t as Tokens.Heading).tokens, style);
        out.push(style === 'whatsapp' ? wrap('*', text) : text);
        break;
      }
      case 'paragraph':
        out.push(inline((t as Tokens.Paragraph).tokens, style));
        break;
      case 'text': {
        const tt = t as Tokens.Text;
        out.push(tt.tokens ? inline(tt.tokens, style) : decode(tt.text));
        break;
      }
      case 'list': {
        const list = t as Tokens.List;
        const start = typeof list.start === 'number' ? list.start : 1;
        out.push(
          list.items
            .map((item, i) => {
              const body = blocks(item.tokens, style).join('\n');
              return `${list.ordered ? `${start + i}.` : '•'} ${body}`;
            })
            .join('\n'),
        );
        break;
      }
      case 'blockquote':
        out.push(blocks((t as Tokens.Blockquote).tokens, style).map((l) => `> ${l}`).join('\n'));
        break;
      case 'code':
        out.push(style === 'whatsapp' ? '```' + (t as Tokens.Code).text + '```' : (t as Tokens.Code).text);
        break;
      case 'table': {
        const table = t as Tokens.Table;
        const row = (cells: Tokens.TableCell[]) => cells.map((c) => inline(c.tokens, style)).join(' | ');
        out.push([row(table.header), ...table.rows.map(row)].join('\n'));
        break;
      }
      case 'html':
        out.push(stripTags((t as Tokens.HTML).text));
        break;
      default:
        if ('tokens' in t && Array.isArray((t as any).tokens)) out.push(inline((t as any).tokens, style));
        else if ('text' in t) out.push(decode(String((t as any).text)));
    }
  }
  return out.filter((s) => s.length > 0);
}

function inline(tokens: Token[] | undefined, style: TextStyle): string {
  if (!tokens) return '';
  let s = '';
  for (const t of tokens) {
    switch (t.type) {
      case 'strong':
        s += style === 'whatsapp' ? wrap('*', inline((t as Tokens.Strong).tokens, style)) : inline((t as Tokens.Strong).tokens, style);
        break;
      case 'em':
        s += style === 'whatsapp' ? wrap('_', inline((t as Tokens.Em).tokens, style)) : inline((t as Tokens.Em).tokens, style);
        break;
      case 'del':
        s += style === 'whatsapp' ? wrap('~', inline((t as Tokens.Del).tokens, style)) : inline((t as Tokens.Del).tokens, style);
        break;
      case 'codespan':
        s += style === 'whatsapp' ? '`' + decode((t as Tokens.Codespan).text) + '`' : decode((t as Tokens.Codespan).text);
        break;
      case 'link': {
        const l = t as Tokens.Link;
        const label = inline(l.tokens, style);
        s += !label || sameTarget(label, l.href) ? l.href : `${label} (${l.href})`;
        break;
      }
      case 'image': {
        const img = t as Tokens.Image;
        s += img.text ? `${img.text} (${img.href})` : img.href;
        break;
      }
      case 'br':
        s += '\n';
        break;
      case 'html':
        s += stripTags((t as Tokens.Tag).text);
        break;
      case 'escape':
        s += (t as Tokens.Escape).text;
        break;
      case 'text': {
        const tt = t as Tokens.Text;
        s += tt.tokens ? inline(tt.tokens, style) : decode(tt.text);
        break;
      }
      default:
        s += 'tokens' in t && Array.isArray((t as any).tokens) ? inline((t as any).tokens, style) : decode(String((t as any).text ?? (t as any).raw ?? ''));
    }
  }
  return s;
}

/** `example.com/pay` and `https://example.com/pay/` name the same link: show it once. */
function sameTarget(label: string, href: string): boolean {
  const norm = (u: string) => u.trim().replace(/^(https?:\/\/|mailto:|tel:)/i, '').replace(/^www\./i, '').replace(/\/+$/, '').toLowerCase();
  return norm(label) === norm(href);
}

/** WhatsApp needs the markers hugging the text: `*bold*`, not `* bold *`. */
function wrap(marker: string, text: string): string {
  const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(text)!;
  return m[2] ? `${m[1]}${marker}${m[2]}${marker}${m[3]}` : text;
}

function stripTags(html: string): string {
  return decode(html.replace(/<br\s*\/?>/gi, '\n').replace(/<[^>]+>/g, ''));
}

function decode(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
const wordSegmenter = new Intl.Segmenter('en', { granularity: 'word' });

/**
 * Splits `text` into chunks of at most `max` characters (UTF-16 units, as Meta counts them), cutting
 * at paragraph breaks, then sentence ends, then words; a single word longer than `max` is cut hard,
 * never inside a surrogate pair. Chunks are trimmed; joining them loses only the whitespace at cuts.
 * @example splitText('One. Two. Three.', 10) // ['One. Two.', 'Three.']
 */
export function splitText(text: string, max: number): string[] {
  if (max < 2) throw new RangeError(`splitText: max must be at least 2 (got ${max})`);
  const trimmed = text.trim();
  if (trimmed.length <= max) return trimmed ? [trimmed] : [];
  const pieces: string[] = [];
  // Units from largest to smallest: paragraphs, then sentences, then words, then code points.
  for (const para of trimmed.split(/(?<=\n\s*\n)/)) {
    if (para.length <= max) pieces.push(para);
    else
      for (const { segment } of sentenceSegmenter.segment(para)) {
        if (segment.length <= max) pieces.push(segment);
        else
          for (const { segment: word } of wordSegmenter.segment(segment)) {
            if (word.length <= max) pieces.push(word);
            else pieces.push(...hardCut(word, max));
          }
      }
  }
  const chunks: string[] = [];
  let current = '';
  for (const p of pieces) {
    if ((current + p).trimEnd().length <= max) current += p;
    else {
      if (current.trim()) chunks.push(current.trim());
      current = p.trimStart();
    }
  }
  if (current.trim()) chunks.push(current.trim());
  return chunks;
}

function hardCut(s: string, max: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    let end = Math.min(i + max, s.length);
    const code = s.charCodeAt(end - 1);
    if (end < s.length && code >= 0xd800 && code <= 0xdbff) end -= 1; // keep surrogate pairs whole
    out.push(s.slice(i, end));
    i = end;
  }
  return out;
}

/**
 * Shortens a button or row title to a platform limit, ending in `…` when cut.
 * @example truncate('Opening hours on public holidays', 20) // 'Opening hours on pu…'
 */
export function truncate(text: string, max: number): string {
  const t = text.trim();
  if (t.length <= max) return t;
  let end = max - 1;
  const code = t.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return t.slice(0, end).trimEnd() + '…';
}
