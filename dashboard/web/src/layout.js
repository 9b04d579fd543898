// Windows and layouts: golden-layout holds the windows (resizable, dockable, stackable);
// a layout is its saved configuration. The current layout is kept in localStorage on
// every change, so a reload restores it; "Save" keeps a named copy to restore later;
// "Share" puts the layout in the URL fragment, which opening the link restores.
//
// A layout from a link is untrusted input: it only names widget ids, each window is
// mounted from the registry's entry for that id (never from the link), and its title is
// the registry's label, shown as text by golden-layout.

import { GoldenLayout, LayoutConfig } from 'golden-layout';
import { mount } from './mount.js';

const LAST = 'dappmesh.layout.last';
const SAVED = 'dappmesh.layout.saved';
const FRAGMENT = 'layout=';
/** golden-layout's location selectors: the first row, else under the root. */
const BESIDE = [{ typeId: 4 /* FirstRow */ }, { typeId: 7 /* Root */ }];
/** A workspace with no windows yet: a row, so that new windows tile side by side. */
const EMPTY = { root: { type: 'row', content: [] } };

function encode(config) {
  const bytes = new TextEncoder().encode(JSON.stringify(config));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function decode(text) {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export class Windows {
  /** `widgetById(id)` gives the registry's current entry for a widget id. */
  constructor(root, widgetById) {
    this.widgetById = widgetById;
    this.layout = new GoldenLayout(root);
    this.layout.resizeWithContainerAutomatically = true;
    this.layout.registerComponentFactoryFunction('widget', (container, state) => {
      const id = typeof state?.id === 'string' ? state.id : '';
      const widget = this.widgetById(id);
      if (widget) container.setTitle(widget.label);
      const host = document.createElement('div');
      host.className = 'widget-host';
      container.element.append(host);
      const unmount = mount(host, widget, id);
      container.on('beforeComponentRelease', unmount);
      return undefined;
    });
    this.layout.on('stateChanged', () => this.remember());
  }

  /** The current layout as plain JSON. */
  current() {
    return LayoutConfig.fromResolved(this.layout.saveLayout());
  }

  remember() {
    try {
      localStorage.setItem(LAST, JSON.stringify(this.current()));
    } catch (e) {
      console.warn('the layout could not be kept', e);
    }
  }

  /** Loads a layout; an invalid one leaves an empty workspace. */
  load(config) {
    try {
      this.layout.loadLayout(config);
    } catch (e) {
      console.warn('the layout could not be restored', e);
      this.layout.loadLayout(EMPTY);
    }
  }

  /** Opens a window beside the others (a new column of the root row), not as a tab. */
  add(widget) {
    this.layout.addComponentAtLocation('widget', { id: widget.id }, widget.label, BESIDE);
  }

  save() {
    localStorage.setItem(SAVED, JSON.stringify(this.current()));
  }

  restoreSaved() {
    const saved = localStorage.getItem(SAVED);
    if (saved === null) return false;
    this.load(JSON.parse(saved));
    return true;
  }

  shareLink() {
    const url = new URL(location.href);
    url.hash = FRAGMENT + encode(this.current());
    return url.href;
  }

  /** At start: the link's layout if there is one, else the last one, else nothing. */
  restoreAtStart() {
    const hash = location.hash.slice(1);
    if (hash.startsWith(FRAGMENT)) {
      try {
        this.load(decode(hash.slice(FRAGMENT.length)));
        // The link is consumed: the layout lives on in localStorage from here.
        history.replaceState(null, '', location.pathname + location.search);
        this.remember();
        return;
      } catch (e) {
        console.warn('the shared layout is not valid', e);
      }
    }
    const last = localStorage.getItem(LAST);
    if (last !== null) {
      try {
        this.load(JSON.parse(last));
        return;
      } catch (e) {
        console.warn('the last layout is not valid', e);
      }
    }
    this.load(EMPTY);
  }
}
