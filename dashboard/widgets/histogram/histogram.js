// <dm-histogram src="https://tracker/count" from="…" to="…" minutes-per-bucket="5">:
// bucketed counts drawn as bars, with a range slider over the buckets. It reads
// GET {src}/{from}/{to}/{minutesPerBucket} (epoch milliseconds), which answers
// [{"timestamp": <bucket start, epoch ms>, "count": <hits>}, …] in time order (the
// tracker's count endpoint). Moving the slider publishes
// dappmesh:range {from, to, total} on the dashboard's event bus.
(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const W = 480;
  const H = 160;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(`
    :host { display: block; font: 13px system-ui, sans-serif; }
    svg { width: 100%; height: auto; background: #fafcfe; border: 1px solid #d5dbe1; }
    rect { fill: #b9c9dd; }
    rect.in { fill: #3d7bd9; }
    .sliders { display: grid; grid-template-columns: 3em 1fr; gap: .2em .5em; margin-top: .5em; }
    .summary { margin-top: .4em; }
    .error { color: #a33; }
  `);

  const el = (tag, props = {}) => Object.assign(document.createElement(tag), props);

  class DmHistogram extends HTMLElement {
    constructor() {
      super();
      this.root = this.attachShadow({ mode: 'open' });
      this.root.adoptedStyleSheets = [sheet];
      this.buckets = [];
    }

    connectedCallback() {
      this.load();
    }

    endpoint() {
      const src = (this.getAttribute('src') ?? '').replace(/\/+$/, '');
      const now = Date.now();
      const to = Number(this.getAttribute('to') ?? now);
      const from = Number(this.getAttribute('from') ?? to - 3600_000);
      const minutes = Number(this.getAttribute('minutes-per-bucket') ?? 5);
      return `${src}/${Math.trunc(from)}/${Math.trunc(to)}/${Math.max(1, Math.trunc(minutes))}`;
    }

    async load() {
      try {
        const response = await fetch(this.endpoint(), { headers: { accept: 'application/json' } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const body = await response.json();
        if (!Array.isArray(body)) throw new Error('the answer is not a list of buckets');
        this.buckets = body
          .map((b) => ({ timestamp: Number(b?.timestamp), count: Number(b?.count) }))
          .filter((b) => Number.isFinite(b.timestamp) && Number.isFinite(b.count) && b.count >= 0);
        this.render();
      } catch (e) {
        this.root.replaceChildren(el('p', { className: 'error', textContent: `No data: ${e.message}` }));
      }
      this.dispatchEvent(new CustomEvent('dappmesh:rendered', { bubbles: true, composed: true }));
    }

    render() {
      const n = this.buckets.length;
      const max = Math.max(1, ...this.buckets.map((b) => b.count));
      const chart = document.createElementNS(SVG, 'svg');
      chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
      chart.setAttribute('role', 'img');
      chart.setAttribute('aria-label', 'Hits per bucket');
      this.bars = this.buckets.map((b, i) => {
        const bar = document.createElementNS(SVG, 'rect');
        const w = W / Math.max(1, n);
        const h = (b.count / max) * (H - 10);
        bar.setAttribute('x', String(i * w + 1));
        bar.setAttribute('width', String(Math.max(1, w - 2)));
        bar.setAttribute('y', String(H - h));
        bar.setAttribute('height', String(h));
        const title = document.createElementNS(SVG, 'title');
        title.textContent = `${new Date(b.timestamp).toISOString()}: ${b.count}`;
        bar.append(title);
        chart.append(bar);
        return bar;
      });
      const slider = (value) =>
        el('input', { type: 'range', min: '0', max: String(Math.max(0, n - 1)), step: '1', value: String(value) });
      this.lo = slider(0);
      this.hi = slider(Math.max(0, n - 1));
      this.lo.className = 'from';
      this.hi.className = 'to';
      this.summary = el('p', { className: 'summary' });
      const sliders = el('div', { className: 'sliders' });
      sliders.append(el('span', { textContent: 'From' }), this.lo, el('span', { textContent: 'To' }), this.hi);
      for (const input of [this.lo, this.hi]) input.addEventListener('input', () => this.select(true));
      this.root.replaceChildren(chart, sliders, this.summary);
      this.select(false);
    }

    select(publish) {
      const a = Math.min(Number(this.lo.value), Number(this.hi.value));
      const b = Math.max(Number(this.lo.value), Number(this.hi.value));
      let total = 0;
      this.bars.forEach((bar, i) => {
        const inside = i >= a && i <= b;
        bar.classList.toggle('in', inside);
        if (inside) total += this.buckets[i].count;
      });
      const from = this.buckets[a]?.timestamp ?? 0;
      const to = this.buckets[b]?.timestamp ?? 0;
      this.summary.textContent = this.buckets.length
        ? `${total} hits from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}`
        : 'No buckets.';
      if (publish) {
        this.dispatchEvent(
          new CustomEvent('dappmesh:range', { detail: { from, to, total }, bubbles: true, composed: true }),
        );
      }
    }
  }

  if (!customElements.get('dm-histogram')) customElements.define('dm-histogram', DmHistogram);
})();
