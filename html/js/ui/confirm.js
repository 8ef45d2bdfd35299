// confirm.js: a question the person must answer before something that
// cannot be undone (taking the lead from someone, replacing a link,
// deleting a recording). A modal <dialog>, made here the first time it is
// needed (so every page that asks has the same one): the keyboard stays
// inside it, Escape answers no.

import { $, el, setText } from './dom.js';

function dialog() {
  const have = document.getElementById('confirm');
  if (have) return have;
  const button = (id, value, text, cls) =>
    el('button', { class: cls, text, attrs: { type: 'submit', value, id } });
  const d = el('dialog', { class: 'confirm', attrs: { id: 'confirm', 'aria-labelledby': 'confirm-text' } },
    el('form', { attrs: { method: 'dialog' } },
      el('p', { attrs: { id: 'confirm-text' } }),
      el('div', { class: 'buttons' },
        button('confirm-ok', 'ok', 'OK', ''),
        button('confirm-cancel', 'cancel', 'Cancel', 'secondary'))));
  document.body.append(d);
  return d;
}

/**
 * Asks text with the OK button labelled ok; resolves true for OK, false
 * for Cancel or Escape (and at once while another question is open).
 */
export function askConfirm(text, ok = 'OK') {
  const d = dialog();
  if (d.open) return Promise.resolve(false);
  setText($('confirm-text'), text);
  setText($('confirm-ok'), ok);
  d.returnValue = '';
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.showModal();
    $('confirm-cancel').focus();
  });
}
