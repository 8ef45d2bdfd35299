// confirm.js: a question the person must answer before something that
// cannot be undone (taking the lead from someone, replacing a link). A
// modal <dialog>: the keyboard stays inside it, Escape answers no.

import { $, setText } from './dom.js';

/**
 * Asks text with the OK button labelled ok; resolves true for OK, false
 * for Cancel or Escape (and at once while another question is open).
 */
export function askConfirm(text, ok = 'OK') {
  const d = $('confirm');
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
