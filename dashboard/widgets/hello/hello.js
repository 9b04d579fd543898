// <dm-hello greeting="…">: the smallest widget. It shows its greeting, publishes it on the
// dashboard's event bus (dappmesh:greeting) when its button is pressed, and shows what
// other widgets publish (dappmesh:greeting, dappmesh:range). Styles are a constructed
// stylesheet: the dashboard's CSP allows no inline <style>.
(() => {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(`
    :host { display: block; font: 14px system-ui, sans-serif; }
    .greeting { font-size: 1.3em; margin: 0 0 .5em; }
    .inbox { color: #335; min-height: 1.2em; }
    button { padding: .3em .8em; }
  `);

  class DmHello extends HTMLElement {
    static observedAttributes = ['greeting'];

    constructor() {
      super();
      const root = this.attachShadow({ mode: 'open' });
      root.adoptedStyleSheets = [sheet];
      this.greetingNode = document.createElement('p');
      this.greetingNode.className = 'greeting';
      this.button = document.createElement('button');
      this.button.type = 'button';
      this.button.textContent = 'Send greeting';
      this.inbox = document.createElement('p');
      this.inbox.className = 'inbox';
      this.inbox.textContent = 'Nothing received yet.';
      root.append(this.greetingNode, this.button, this.inbox);
      this.button.addEventListener('click', () => {
        this.button.dispatchEvent(
          new CustomEvent('dappmesh:greeting', {
            detail: { text: this.getAttribute('greeting') ?? '' },
            bubbles: true,
            composed: true,
          }),
        );
      });
      // Its own greeting bubbles through this element too; only copies the dashboard
      // relays are dispatched on the element itself.
      const relayed = (e) => e.composedPath()[0] === this;
      this.addEventListener('dappmesh:greeting', (e) => {
        if (!relayed(e)) return;
        this.inbox.textContent = `Received: ${e.detail?.text ?? ''}`;
      });
      this.addEventListener('dappmesh:range', (e) => {
        if (!relayed(e)) return;
        this.inbox.textContent = `Range: ${e.detail?.total ?? 0} hits`;
      });
    }

    attributeChangedCallback() {
      this.greetingNode.textContent = this.getAttribute('greeting') ?? 'Hello';
    }

    connectedCallback() {
      this.greetingNode.textContent = this.getAttribute('greeting') ?? 'Hello';
      this.dispatchEvent(new CustomEvent('dappmesh:rendered', { bubbles: true, composed: true }));
    }
  }

  if (!customElements.get('dm-hello')) customElements.define('dm-hello', DmHello);
})();
