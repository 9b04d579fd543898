// Building DOM nodes from data. Text always goes through textContent and attributes
// through setAttribute, so nothing the registry sends is ever parsed as HTML.

const SVG = 'http://www.w3.org/2000/svg';

/**
 * An HTML element: `el('li', {className: 'x', text: label, attrs: {title: t}}, child…)`.
 */
export function el(tag, { className, text, attrs, on } = {}, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, String(value));
  for (const [type, handler] of Object.entries(on ?? {})) node.addEventListener(type, handler);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** An SVG element, with attributes. */
export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** "12 s ago", "3 min ago": how long since an RFC 3339 instant. */
export function age(rfc3339, now = Date.now()) {
  const t = Date.parse(rfc3339 ?? '');
  if (Number.isNaN(t)) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
