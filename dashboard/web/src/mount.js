// Mounting a widget: its bundle is loaded through the dashboard's proxy (same origin, so
// the page's CSP allows it), then its custom element is created from the registry's
// structured form with createElement and setAttribute. No markup is ever parsed.

import { el } from './dom.js';
import { addWidget, removeWidget } from './bus.js';

const loaded = new Map();

/** Loads a script or stylesheet once per URL; resolves when it has loaded. */
function load(kind, url) {
  const key = `${kind} ${url}`;
  if (!loaded.has(key)) {
    loaded.set(
      key,
      new Promise((resolve, reject) => {
        const node =
          kind === 'script'
            ? el('script', { attrs: { src: url } })
            : el('link', { attrs: { rel: 'stylesheet', href: url } });
        node.addEventListener('load', resolve);
        node.addEventListener('error', () => {
          loaded.delete(key);
          node.remove();
          reject(new Error(`the ${kind} bundle did not load`));
        });
        document.head.append(node);
      }),
    );
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
