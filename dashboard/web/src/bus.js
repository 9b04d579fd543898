// The event bus between widgets. A widget publishes by dispatching
// `new CustomEvent('dappmesh:<name>', {detail, bubbles: true, composed: true})` from itself
// or from inside its shadow root; the page hands a copy (structuredClone of detail) to
// every other mounted widget, dispatched on the widget element itself, where it subscribes
// with `this.addEventListener('dappmesh:<name>', …)`.
//
// The DOM has no wildcard listeners, so the page cannot listen for "any dappmesh:* event"
// on the document. Instead it observes dispatchEvent itself: after an event has been
// dispatched normally, a `dappmesh:` CustomEvent whose target lies inside a mounted widget
// is relayed. Relayed copies are marked so they are never relayed again.

const mounted = new Set();
const relayed = new WeakSet();
/** Events that are signals to the page, not messages between widgets. */
const PAGE_ONLY = new Set(['dappmesh:rendered']);

/** The mounted widget element that contains `node` (through shadow roots), if any. */
function widgetOf(node) {
  let n = node;
  while (n) {
    if (mounted.has(n)) return n;
    n = n.parentNode ?? (n instanceof ShadowRoot ? n.host : null);
  }
  return null;
}

function relay(source, event, dispatch) {
  let detail;
  try {
    detail = structuredClone(event.detail);
  } catch (e) {
    console.warn(`dappmesh bus: ${event.type} dropped, its detail cannot be cloned`, e);
    return;
  }
  for (const target of mounted) {
    if (target === source) continue;
    const copy = new CustomEvent(event.type, { detail, bubbles: false, composed: false });
    relayed.add(copy);
    dispatch.call(target, copy);
  }
}

/** Installs the relay once. */
export function installBus() {
  const dispatch = EventTarget.prototype.dispatchEvent;
  EventTarget.prototype.dispatchEvent = function dispatchEvent(event) {
    const result = dispatch.call(this, event);
    if (
      event instanceof CustomEvent &&
      event.type.startsWith('dappmesh:') &&
      !PAGE_ONLY.has(event.type) &&
      !relayed.has(event)
    ) {
      const source = widgetOf(this);
      if (source) relay(source, event, dispatch);
    }
    return result;
  };
}

export function addWidget(element) {
  mounted.add(element);
}

export function removeWidget(element) {
  mounted.delete(element);
}
