// Mounting a widget: its bundle is loaded through the dashboard's proxy (same origin, so
// the page's CSP allows it) with Subresource Integrity, then its custom element is created
// from the registry's structured form with createElement and setAttribute. No markup is
// ever parsed.

import { el } from './dom.js';
import { addWidget, removeWidget } from './bus.js';

const loaded = new Map();

/**
 * The Subresource Integrity value the dashboard pinned for a bundle at its first fetch:
 * `/api/bundles/{id}/integrity?url=…` beside the bundle's own `/api/bundles/{id}?url=…`.
 */
async function integrityOf(kind, url) {
  const response = await fetch(url.replace('?', '/integrity?'), { cache: 'no-store' });
  if (!response.ok) throw new Error(`the ${kind} bundle is unavailable`);
  return (await response.json()).integrity;
}

/**
 * Loads a script or stylesheet once per URL, with the integrity value the dashboard
 * pinned, so the browser runs nothing but the bytes that were pinned; resolves when it
 * has loaded. The bundles are same-origin (the proxy), so no crossorigin attribute is
 * needed for the browser to check them.
 */
function load(kind, url) {
  const key = `${kind} ${url}`;
  if (!loaded.has(key)) {
    const loading = integrityOf(kind, url).then(
      (integrity) =>
        new Promise((resolve, reject) => {
          const node =
            kind === 'script'
              ? el('script', { attrs: { src: url, integrity } })
              : el('link', { attrs: { rel: 'stylesheet', href: url, integrity } });
          node.addEventListener('load', resolve);
          node.addEventListener('error', () => {
            node.remove();
            reject(new Error(`the ${kind} bundle did not load`));
          });
          document.head.append(node);
        }),
    );
    // A failure is not kept: the next mount tries again.
    loading.catch(() => loaded.delete(key));
    loaded.set(key, loading);
  }
  return loaded.get(key);
}

/** Creates the widget's element from its structured form. */
export function createWidgetElement(widget) {
  const element = document.createElement(widget.element.tag);
  for (const [name, value] of Object.entries(widget.element.attributes)) {
    element.setAttribute(name, String(value));
  }
  element.dataset.dappmeshWidget = widget.id;
  return element;
}

/**
 * Mounts `widget` into `host`; returns a function that unmounts it. `widget` is undefined
 * when a layout names a widget the registry no longer lists.
 */
export function mount(host, widget, id) {
  const message = (text) => host.replaceChildren(el('p', { className: 'widget-message', text }));
  if (!widget) {
    message(`The widget "${id}" is not registered.`);
    return () => {};
  }
  if (!widget.element || !widget.script) {
    message(`The widget "${widget.label}" cannot be mounted: ${widget.problem ?? 'no bundle'}.`);
    return () => {};
  }
  message(`Loading ${widget.label}…`);
  let element = null;
  let released = false;
  const styles = widget.stylesheet ? load('stylesheet', widget.stylesheet) : Promise.resolve();
  Promise.all([load('script', widget.script), styles])
    .then(() => {
      if (released) return;
      element = createWidgetElement(widget);
      addWidget(element);
      host.replaceChildren(element);
    })
    .catch((e) => message(`The widget "${widget.label}" failed to load: ${e.message}.`));
  return () => {
    released = true;
    if (element) removeWidget(element);
  };
}
