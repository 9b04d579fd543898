// The page: loads the widget list, restores the layout, keeps the picker and the catalog
// up to date, and shows a banner while the backend serves a cached list.

import { installBus } from './bus.js';
import { renderLineage, renderTable } from './catalog.js';
import { Windows } from './layout.js';
import { renderPicker } from './picker.js';

const REFRESH_MS = 3000;
const byId = (id) => document.getElementById(id);

let widgets = new Map();

/** GETs a JSON answer of the backend. */
async function api(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
  return body;
}

function showBanner(answer, failure) {
  const banner = byId('banner');
  if (failure) {
    banner.textContent = `The dashboard backend is unreachable (${failure.message}); the list shown may be out of date.`;
  } else if (answer.source === 'cached') {
    banner.textContent = `Showing the cached list read at ${answer.fetchedAt}: ${answer.error ?? 'the registry did not answer'}.`;
  } else {
    banner.hidden = true;
    banner.textContent = '';
    return;
  }
  banner.hidden = false;
}

async function refreshWidgets(windows) {
  try {
    const answer = await api('/api/widgets');
    widgets = new Map(answer.widgets.map((w) => [w.id, w]));
    showBanner(answer, null);
    renderPicker(byId('widget-list'), answer.widgets, (w) => windows.add(w));
    return true;
  } catch (e) {
    showBanner(null, e);
    return false;
  }
}

async function refreshCatalog() {
  try {
    const answer = await api('/api/products');
    renderTable(byId('product-table').tBodies[0], answer.products);
    renderLineage(byId('lineage'), answer.products);
  } catch (e) {
    showBanner(null, e);
  }
}

/** Marks the first widget that says it rendered, for the time-to-first-widget measure. */
function measureFirstWidget() {
  document.addEventListener(
    'dappmesh:rendered',
    () => {
      performance.mark('dappmesh:first-widget-rendered');
      performance.measure('dappmesh:time-to-first-widget', {
        start: 0,
        end: 'dappmesh:first-widget-rendered',
      });
    },
    { once: true },
  );
}

function showView(name) {
  const catalog = name === 'catalog';
  byId('widgets-view').hidden = catalog;
  byId('catalog-view').hidden = !catalog;
  byId('show-widgets').setAttribute('aria-pressed', String(!catalog));
  byId('show-catalog').setAttribute('aria-pressed', String(catalog));
  if (catalog) refreshCatalog();
}

async function start() {
  measureFirstWidget();
  installBus();
  const windows = new Windows(byId('workspace'), (id) => widgets.get(id));
  byId('save-layout').addEventListener('click', () => windows.save());
  byId('restore-layout').addEventListener('click', () => windows.restoreSaved());
  byId('share-layout').addEventListener('click', () => {
    const field = byId('share-link');
    field.value = windows.shareLink();
    field.hidden = false;
    field.select();
  });
  byId('show-widgets').addEventListener('click', () => showView('widgets'));
  byId('show-catalog').addEventListener('click', () => showView('catalog'));
  // The layout names widgets by id, so the list comes first.
  await refreshWidgets(windows);
  windows.restoreAtStart();
  document.documentElement.dataset.ready = 'true';
  setInterval(() => {
    refreshWidgets(windows);
    if (!byId('catalog-view').hidden) refreshCatalog();
  }, REFRESH_MS);
}

start();
