// organiser.js: the organiser's card. The organiser copies the singers'
// link, replaces either link (the old one stops working at once: whoever
// holds it is let out) and caps the number of singers in the room.
//
// The server keeps only a fingerprint of each key, so the page can show the
// singers' link only once it has made one; the last one made here is kept
// in this browser (localStorage, by room) with the time it was made, so
// that it can be copied again later. Every change asks for a confirmation
// first, and the server's answer, not the click, is what the card shows.

import { $, numberIn, setText, show } from './dom.js';
import { askConfirm } from './confirm.js';
import { toast } from './toast.js';
import { endpointUrl } from '../protocol.js';
import { roomLink, withRoom } from '../room.js';

const QUESTIONS = {
  singers: ["Make a new singers' link? The link the singers have now stops working at once: everyone who joined with it is let out and needs the new one.",
    "Make a new singers' link"],
  organiser: ['Make a new organiser link? The link you opened this page with stops working at once. This page moves to the new link: bookmark it, or you lose the organiser\'s controls.',
    'Make a new organiser link'],
};

/**
 * Wires the card. o: {api: () => API URL, room: () => {id, key}, store:
 * {get(k), set(k, v)}, onNewKey(which, key) (the server made it; the page
 * switches to a new organiser key itself), onCap(n) (the cap the server
 * took)}.
 */
export function setupOrganiserCard(o) {
  const storeKey = () => `singersLink.${o.room().id}`;
  showSingersLink(o.store.get(storeKey()));
  $('singers-link-copy').addEventListener('click', () => copyField($('singers-link')));
  $('organiser-link-copy').addEventListener('click', () => copyField($('organiser-link')));
  const replace = async (which) => {
    const [question, ok] = QUESTIONS[which];
    if (!(await askConfirm(question, ok))) return;
    const buttons = [$('replace-singers'), $('replace-organiser')];
    for (const b of buttons) b.disabled = true;
    setText($('organiser-result'), 'Making the new link…');
    try {
      const j = await post(o, 'room/link', { which });
      if (typeof j.key !== 'string' || !j.key) throw new Error('the server gave no key');
      const link = roomLink(location.href, j.key);
      if (which === 'singers') {
        const saved = JSON.stringify({ link, made: Date.now() });
        o.store.set(storeKey(), saved);
        showSingersLink(saved);
        setText($('organiser-result'), "New singers' link made: copy it and send it to your singers. The old one no longer works.");
      } else {
        $('organiser-link').value = link;
        show($('organiser-link-wrap'), true);
        setText($('organiser-result'), 'New organiser link made, and this page moved to it. The old one no longer works.');
      }
      o.onNewKey(which, j.key);
    } catch (e) {
      setText($('organiser-result'), `No new link was made: ${e.message}`);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  };
  $('replace-singers').addEventListener('click', () => replace('singers'));
  $('replace-organiser').addEventListener('click', () => replace('organiser'));
  $('cap-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = numberIn($('max-singers'), 0, 10000, { integer: true, message: "A whole number from 0 (the server's limit) to 10000" });
    if (n === null) return;
    try {
      await post(o, 'room/cap', { max_singers: n });
      setText($('organiser-result'), n ? `At most ${n} singers at once now (listeners are not counted).` : "The server's own limit applies now.");
      o.onCap(n);
    } catch (err) {
      setText($('organiser-result'), `The limit did not change: ${err.message}`);
    }
  });
}

/** Shows the room's cap (0: the server's) unless the organiser is typing one. */
export function renderOrganiserCard(maxSingers) {
  const input = $('max-singers');
  if (document.activeElement !== input && Number.isInteger(maxSingers)) input.value = String(maxSingers);
}

// A POST to an organiser endpoint; resolves the JSON answer ({} for 204),
// throws with the server's sentence.
async function post(o, name, params) {
  const r = await fetch(withRoom(endpointUrl(o.api(), name), o.room(), params), { method: 'POST', cache: 'no-store' });
  let j = {};
  try { j = await r.json(); } catch { /* 204, or not JSON */ }
  if (!r.ok) throw new Error(j.error || `the server answered ${r.status}`);
  return j;
}

// The singers' link last made here, as stored: {link, made}.
function showSingersLink(saved) {
  let s = null;
  try { s = JSON.parse(saved || 'null'); } catch { /* nothing kept */ }
  if (!s || typeof s.link !== 'string') return;
  $('singers-link').value = s.link;
  show($('singers-link-wrap'), true);
  const when = new Date(s.made).toLocaleString();
  setText($('singers-link-hint'), `Made on this device on ${when}. If a newer one was made since, only that one works.`);
}

async function copyField(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    toast('Link copied.', 3000);
  } catch {
    input.focus();
    input.select();
    toast('The link is selected: copy it (Ctrl+C, or a long press on a phone).');
  }
}
