// The catalog view: the registry's data products in a table, and their lineage drawn as
// SVG: one box per product (placed in columns by how far upstream it is), its output
// ports listed inside, and an edge from each producing output port to the consuming
// product's input port.

import { el, svg } from './dom.js';

const BOX_W = 220;
const GAP_X = 90;
const LINE = 18;
const PAD = 10;

export function renderTable(tbody, products) {
  const rows = products.map((p) =>
    el(
      'tr',
      { attrs: { 'data-product-id': p.id } },
      el('td', { text: p.name, attrs: { title: p.id } }),
      el('td', { text: p.domain }),
      el('td', { text: p.owner }),
      el('td', { text: p.version }),
      el('td', { className: `status status-${p.status}`, text: p.status }),
      el('td', {
        text: p.outputPorts.map((o) => `${o.name} (${o.type ?? '?'}${o.version ? ` ${o.version}` : ''})`).join(', '),
      }),
      el('td', {
        text: p.outputPorts
          .filter((o) => o.contract)
          .map((o) => `${o.contract.id}${o.contract.version ? ` ${o.contract.version}` : ''}`)
          .join(', '),
      }),
    ),
  );
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { text: 'No data product is registered.', attrs: { colspan: 7 } })));
  tbody.replaceChildren(...rows);
}

/** Column of each product: 0 for sources, 1 + the deepest upstream otherwise. */
function columns(products) {
  const byId = new Map(products.map((p) => [p.id, p]));
  const depth = new Map();
  const visit = (p, path) => {
    if (depth.has(p.id)) return depth.get(p.id);
    if (path.has(p.id)) return 0; // a cycle: draw it, do not loop
    path.add(p.id);
    let d = 0;
    for (const edge of p.upstream) {
      const up = byId.get(edge.product);
      if (up) d = Math.max(d, visit(up, path) + 1);
    }
    path.delete(p.id);
    depth.set(p.id, d);
    return d;
  };
  for (const p of products) visit(p, new Set());
  return depth;
}

export function renderLineage(container, products) {
  const depth = columns(products);
  const boxes = new Map();
  const nextY = [];
  for (const p of products) {
    const col = depth.get(p.id) ?? 0;
    const lines = 1 + Math.max(p.outputPorts.length, p.inputPorts.length);
    const h = PAD * 2 + lines * LINE;
    const y = nextY[col] ?? PAD;
    nextY[col] = y + h + PAD * 2;
    boxes.set(p.id, { x: PAD + col * (BOX_W + GAP_X), y, h, p });
  }
  const width = PAD * 2 + (Math.max(0, ...depth.values()) + 1) * (BOX_W + GAP_X);
  const height = Math.max(PAD * 2, ...nextY);
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Lineage' });
  const portY = (box, index) => box.y + PAD + LINE * (index + 1.5);
  for (const box of boxes.values()) {
    const g = svg('g', { class: 'product', 'data-product-id': box.p.id });
    g.append(
      svg('rect', { x: box.x, y: box.y, width: BOX_W, height: box.h, rx: 6 }),
      svg('text', { x: box.x + PAD, y: box.y + PAD + LINE * 0.8, class: 'product-name' }, `${box.p.name} ${box.p.version}`),
    );
    box.p.outputPorts.forEach((o, i) => {
      g.append(svg('text', { x: box.x + BOX_W - PAD, y: portY(box, i) + 4, class: 'port out' }, `${o.name} ▸`));
    });
    box.p.inputPorts.forEach((input, i) => {
      g.append(svg('text', { x: box.x + PAD, y: portY(box, i) + 4, class: 'port in' }, `▸ ${input.name}`));
    });
    root.append(g);
  }
  for (const box of boxes.values()) {
    for (const edge of box.p.upstream) {
      const from = boxes.get(edge.product);
      if (!from) continue;
      const outIndex = from.p.outputPorts.findIndex((o) => o.name === edge.outputPort);
      const inIndex = box.p.inputPorts.findIndex((i) => i.name === edge.inputPort);
      const x1 = from.x + BOX_W;
      const y1 = portY(from, Math.max(0, outIndex));
      const x2 = box.x;
      const y2 = portY(box, Math.max(0, inIndex));
      const mid = (x1 + x2) / 2;
      root.append(
        svg('path', {
          class: 'edge',
          d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
          'data-from': `${edge.product}/${edge.outputPort}`,
          'data-to': `${box.p.id}/${edge.inputPort}`,
        }),
      );
    }
  }
  container.replaceChildren(root);
}
