// toast.js: short notices at the foot of the screen (a refused control,
// who took the lead, a link copied). Each stays a few seconds and goes by
// itself; the region is a polite live region, so screen readers read it.

import { $, el } from './dom.js';

const MAX_SHOWN = 3;

/** Shows text for ms milliseconds; the oldest goes when more than three are up. */
export function toast(text, ms = 6000) {
  const box = $('toasts');
  const p = el('p', { class: 'toast', text });
  box.append(p);
  while (box.children.length > MAX_SHOWN) box.firstElementChild.remove();
  setTimeout(() => p.remove(), ms);
}
