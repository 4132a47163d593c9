/*!
 * Aurix WhatsApp widget: plain ES2017, no dependencies, no build step.
 *   <script src="https://aurix.example/widget.js" data-whatsapp-number="15550783881"
 *           data-label="Chat on WhatsApp" data-position="right" async></script>
 * A click records the visit (POST <api base>/api/widget/click) and opens the
 * wa.me link the service answers, whose text carries the click's reference.
 * If the service fails or is slow, the plain wa.me link opens instead.
 */
(function () {
  'use strict';

  const TIMEOUT_MS = 1500; // then the visitor gets the plain link
  const STORAGE_KEY = 'aurix_device_id';
  const HOST_ID = 'aurix-whatsapp-widget';

  // Our <script>: currentScript (set during this first run, async too), else
  // the last script whose src ends in /widget.js.
  function findScript() {
    if (document.currentScript) return document.currentScript;
    const all = document.querySelectorAll('script[src]');
    for (let i = all.length - 1; i >= 0; i--) {
      if (/\/widget\.js(?:[?#]|$)/.test(all[i].src)) return all[i];
    }
    return null;
  }

  const script = findScript();
  if (!script || window.AurixWidget) return; // loaded twice: one widget

  const data = script.dataset;
  const digits = String(data.whatsappNumber || '').replace(/\D/g, '');
  const fallbackURL = digits ? 'https://wa.me/' + digits : '';
  const label = data.label || 'Chat on WhatsApp';
  const side = data.position === 'left' ? 'left' : 'right';
  // The API is where this file came from, whatever the page's origin
  // (https://aurix.example/widget.js: https://aurix.example); data-api-base wins.
  const apiBase = (data.apiBase || script.src.replace(/\/widget\.js(?:[?#].*)?$/, '')).replace(/\/+$/, '');

  // Device id: kept in localStorage so a visitor's clicks share it; when
  // storage throws (private mode, blocked), it lives in memory.
  let memoryID = '';

  function newID() {
    const c = window.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    // UUID v4 from getRandomValues, else Math.random.
    return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (ch) => {
      const r = c && c.getRandomValues ? c.getRandomValues(new Uint8Array(1))[0] : Math.random() * 256;
      return (ch ^ (r & (15 >> (ch / 4)))).toString(16);
    });
  }

  function validID(id) { return typeof id === 'string' && /^[\w.-]{1,128}$/.test(id); }

  function keep(id) {
    memoryID = id;
    try { window.localStorage.setItem(STORAGE_KEY, id); } catch (e) { /* no storage */ }
  }

  function deviceID() {
    let id = memoryID;
    try { id = id || window.localStorage.getItem(STORAGE_KEY); } catch (e) { /* no storage */ }
    keep(validID(id) ? id : newID());
    return memoryID;
  }

  // The service's wa.me URL; rejects on network errors, non-2xx, bad bodies.
  async function recordClick(signal) {
    const res = await fetch(apiBase + '/api/widget/click', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ click_url: window.location.href, device_id: deviceID() }),
      keepalive: true, // survives the navigation that follows
      credentials: 'omit',
      signal
    });
    if (!res.ok) throw new Error('click answered ' + res.status);
    const body = await res.json();
    if (validID(body.device_id)) keep(body.device_id);
    if (!/^https:\/\//.test(body.whatsapp_url)) throw new Error('no whatsapp_url');
    return body.whatsapp_url;
  }

  // The service's URL, or the plain link after a failure or TIMEOUT_MS.
  async function whatsappURL() {
    const ctrl = window.AbortController ? new AbortController() : null;
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => {
        if (ctrl) ctrl.abort();
        reject(new Error('timed out'));
      }, TIMEOUT_MS);
    });
    try {
      return await Promise.race([recordClick(ctrl && ctrl.signal), late]);
    } catch (err) {
      console.warn('Aurix widget: ' + (err && err.message) + '; opening the plain WhatsApp link');
      return fallbackURL;
    } finally {
      clearTimeout(timer);
    }
  }

  let busy = false;

  async function onClick(ev) {
    ev.preventDefault();
    if (busy) return; // a double click is one click
    busy = true;
    try {
      const url = await whatsappURL();
      // Same tab: window.open after an await is blocked as a popup.
      if (url) window.location.assign(url);
    } finally {
      setTimeout(() => { busy = false; }, 1000); // usable after Back
    }
  }

  // Styles go through el.style (strict CSPs allow it); the host's are
  // !important so page CSS cannot move or hide it.
  function css(el, styles, important) {
    for (const k in styles) el.style.setProperty(k, styles[k], important ? 'important' : '');
  }

  function attrs(el, values) {
    for (const k in values) el.setAttribute(k, values[k]);
  }

  function mount() {
    if (document.getElementById(HOST_ID)) return;
    const host = document.createElement('div');
    host.id = HOST_ID;
    css(host, { all: 'initial', position: 'fixed', bottom: '20px', [side]: '20px', 'z-index': '2147483000' }, true);
    // A shadow root keeps page CSS out (else names are "aurix-" prefixed).
    const root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;

    // A link: focusable, Enter clicks it, its href is the fallback.
    const link = document.createElement('a');
    link.className = 'aurix-whatsapp-button';
    attrs(link, { href: fallbackURL || '#', 'aria-label': label });
    css(link, {
      display: 'flex', 'align-items': 'center', gap: '8px', 'min-height': '48px',
      padding: '12px 18px 12px 14px', 'border-radius': '24px', background: '#25D366',
      color: '#fff', 'text-decoration': 'none', cursor: 'pointer',
      font: '600 15px/1.2 system-ui, sans-serif',
      'box-shadow': '0 4px 12px rgba(0,0,0,.25)'
    });

    // Speech-bubble icon via DOM calls (no innerHTML: Trusted Types).
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    const path = svg.appendChild(document.createElementNS(ns, 'path'));
    attrs(svg, { viewBox: '0 0 24 24', width: 24, height: 24, 'aria-hidden': true });
    attrs(path, { fill: 'currentColor', d: 'M12 2a10 10 0 0 0-8.7 14.9L2 22l5.3-1.4A10 10 0 1 0 12 2z' });

    const text = document.createElement('span');
    text.textContent = label;
    link.append(svg, text);
    link.addEventListener('click', onClick);
    root.appendChild(link);
    document.body.appendChild(host);
  }

  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);

  // For debugging from the console; nothing else is global.
  window.AurixWidget = Object.freeze({ apiBase, fallbackURL, deviceID });
})();
