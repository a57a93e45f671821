/**
 * The few XML documents the signed control plane (./signed-control.ts) reads and writes, with a
 * parser of our own rather than fast-xml-parser: S3's answers are element trees without mixed
 * content, attributes we need, CDATA or DTDs, and a key's text must come back byte for byte
 * (the SDK's parser options blank an all-whitespace value holding a line break — a legal key).
 * Loading no parser module also keeps start-up lean (issue 12: `s3x ls` in ≤ 0.1 s).
 */

/** One element: its local name, child elements in order, and its text (entities decoded). */
export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

/** A document S3 sent that this parser cannot read. */
export class XmlParseError extends Error {
  constructor(message: string) { super(message); this.name = 'XmlParseError'; }
}

const ENTITY = /&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g;

/** XML's five named entities and character references, decoded; anything else left as sent. */
export function decodeXmlText(text: string): string {
  if (text.indexOf('&') < 0) return text;
  return text.replace(ENTITY, (_, e: string) => {
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
      default: return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

const ELEMENT_ESCAPE = /[&"'<>\r\n\u0085\u2028]/g;
const ELEMENT_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;', '"': '&quot;', "'": '&apos;', '<': '&lt;', '>': '&gt;',
  '\r': '&#x0D;', '\n': '&#x0A;', '\u0085': '&#x85;', '\u2028': '&#x2028;',
};

/**
 * Text escaped for an element's content, as the SDK's XML builder escapes it: line breaks as
 * character references, or the server's parser would normalise a key's CR LF to LF.
 */
export function escapeXmlText(text: string): string {
  return text.replace(ELEMENT_ESCAPE, (c) => ELEMENT_ESCAPES[c]!);
}

/** Local name of a tag (a namespace prefix dropped). */
function localName(tag: string): string {
  const i = tag.indexOf(':');
  return i < 0 ? tag : tag.slice(i + 1);
}

/**
 * Parses a document into its root element. Declarations, comments and processing instructions
 * are skipped; text between child elements is kept only for elements without children.
 */
export function parseXml(doc: string): XmlElement {
  const root: XmlElement = { name: '#document', children: [], text: '' };
  const stack: XmlElement[] = [root];
  let i = 0;
  let textStart = 0;
  while (i < doc.length) {
    const lt = doc.indexOf('<', i);
    if (lt < 0) break;
    const top = stack[stack.length - 1]!;
    if (lt > textStart) top.text += doc.slice(textStart, lt);
    const c = doc[lt + 1];
    if (c === '?' || c === '!') {
      const end = doc.startsWith('<!--', lt) ? doc.indexOf('-->', lt) + 2 : doc.indexOf('>', lt);
      if (end < lt + 1) throw new XmlParseError('unterminated declaration');
      i = textStart = end + 1;
      continue;
    }
    const gt = doc.indexOf('>', lt);
    if (gt < 0) throw new XmlParseError('unterminated tag');
    if (c === '/') {
      const name = localName(doc.slice(lt + 2, gt).trim());
      if (stack.length < 2 || top.name !== name) throw new XmlParseError(`unexpected </${name}>`);
      top.text = top.children.length > 0 ? '' : decodeXmlText(top.text);
      stack.pop();
    } else {
      const selfClosing = doc[gt - 1] === '/';
      const inner = doc.slice(lt + 1, selfClosing ? gt - 1 : gt);
      const m = /^[^\s/>]+/.exec(inner);
      if (!m) throw new XmlParseError('empty tag');
      const el: XmlElement = { name: localName(m[0]), children: [], text: '' };
      top.children.push(el);
      if (!selfClosing) stack.push(el);
    }
    i = textStart = gt + 1;
  }
  if (stack.length !== 1) throw new XmlParseError(`unterminated <${stack[stack.length - 1]!.name}>`);
  const el = root.children[0];
  if (!el) throw new XmlParseError('no root element');
  return el;
}

/** The first child element named `name`. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  for (const c of el.children) if (c.name === name) return c;
  return undefined;
}

/** Every child element named `name`, in document order. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

/** Text of the first child named `name`; undefined when there is none. */
export function textOf(el: XmlElement, name: string): string | undefined {
  return child(el, name)?.text;
}

/** A child's text as a number; undefined when absent or not a number. */
export function numberOf(el: XmlElement, name: string): number | undefined {
  const t = textOf(el, name);
  if (t === undefined || t.trim() === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** A child's text as a boolean (S3 writes true/false). */
export function boolOf(el: XmlElement, name: string): boolean | undefined {
  const t = textOf(el, name)?.trim();
  return t === undefined ? undefined : t === 'true';
}

/** A child's text as a Date; undefined when absent or unparsable. */
export function dateOf(el: XmlElement, name: string): Date | undefined {
  const t = textOf(el, name);
  if (t === undefined) return undefined;
  const d = new Date(t.trim());
  return Number.isNaN(d.getTime()) ? undefined : d;
}
