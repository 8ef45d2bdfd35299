// crash.js: the crash screen. Any uncaught error or rejection stops the
// audio and shows what happened, with the details someone needs to fix it
// (message, stack, browser, a snapshot of the client state) and a button
// that copies them.

import { $, show } from './dom.js';

let crashed = false;

/**
 * Installs the global handlers. snapshot() returns an object describing the
 * client state; onCrash() stops audio and network.
 */
export function installCrashScreen(snapshot, onCrash) {
  window.addEventListener('error', (e) => crash(e.error || e.message, snapshot, onCrash));
  window.addEventListener('unhandledrejection', (e) => crash(e.reason, snapshot, onCrash));
  $('crash-reload').addEventListener('click', () => location.reload());
  $('crash-copy').addEventListener('click', async () => {
    const text = $('crash-details').textContent;
    try {
      await navigator.clipboard.writeText(text);
      $('crash-copy').textContent = 'Copied';
    } catch {
      const r = document.createRange();
      r.selectNodeContents($('crash-details'));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    }
  });
}

/** Shows the crash screen for err (an Error or anything). */
export function crash(err, snapshot = () => ({}), onCrash = () => {}) {
  if (crashed) return;
  crashed = true;
  try { onCrash(); } catch { /* keep going: showing the error matters more */ }
  let state;
  try { state = JSON.stringify(snapshot(), null, 1); } catch (e) { state = 'unavailable: ' + e; }
  const lines = [
    `Error: ${err && err.message ? err.message : String(err)}`,
    err && err.stack ? `Stack:\n${err.stack}` : '',
    `Time: ${new Date().toISOString()}`,
    // Without the fragment: a room's key is there, and it is nobody's business.
    `Page: ${location.href.replace(/#.*/, '')}`,
    `Browser: ${navigator.userAgent}`,
    `State: ${state}`,
  ];
  $('crash-details').textContent = lines.filter(Boolean).join('\n');
  show($('crash'), true);
  $('crash-copy').focus();
}

export function hasCrashed() {
  return crashed;
}
