// The widget picker: every registered widget with its label, owner and freshness. Stale
// widgets and widgets that cannot be mounted are listed but disabled.

import { age, el } from './dom.js';

export function renderPicker(list, widgets, onAdd) {
  const items = widgets.map((w) => {
    const usable = !w.stale && w.element !== null && w.script !== null;
    const freshness = w.stale ? `stale · updated ${age(w.lastUpdated)}` : `updated ${age(w.lastUpdated)}`;
    const button = el(
      'button',
      {
        className: 'pick',
        attrs: { type: 'button', 'data-widget-id': w.id, title: w.problem ?? w.id },
        on: { click: () => onAdd(w) },
      },
      el('span', { className: 'pick-label', text: w.label }),
      el('span', { className: 'pick-owner', text: w.owner ?? 'no owner' }),
      el('span', { className: 'pick-fresh', text: freshness }),
    );
    button.disabled = !usable;
    return el('li', { className: w.stale ? 'stale' : 'fresh' }, button);
  });
  if (items.length === 0) items.push(el('li', { className: 'empty', text: 'No widget is registered.' }));
  list.replaceChildren(...items);
}
