// moderate.js: the organiser's moderation, in the console card
// (ui/console.js): on each singer's row an "Appoint leader" button and a
// "Remove" button (asked first, ui/confirm.js), and the list of the
// singers removed from the room, each with "Let back in". Only the
// organiser has them (mixer/roles.h ROLE_ACT_REMOVE, ROLE_ACT_APPOINT), and
// only the organiser's answers carry "removed" (PROTOCOL.md §10.9).
// Kept apart from console.js: it adds one cell to each of the console's
// rows (found by their data-id) and one column heading, and owns its list.

import { $, el, setText, show } from './dom.js';
import { askConfirm } from './confirm.js';

// A button clicked is off this long: the answer that shows the change (a
// row gone, a new leader) comes within a second or two; a refusal is told
// in a toast, and the button can be used again.
const AGAIN_MS = 3000;

/** The removed singers from an answer's "removed": [{id, name}], or []. */
export function removedList(raw) {
  return (Array.isArray(raw) ? raw : []).filter((r) => Array.isArray(r) && r.length >= 2)
    .map((r) => ({ id: String(r[0]), name: String(r[1]) }));
}

/** The question asked before removing `name`. */
export function removeQuestion(name) {
  return `Remove ${name} from the room? Their page tells them so, and they cannot come back with the singers' link until you let them back in.`;
}

/** The question asked before appointing `name`; leaderName: who leads now ('' nobody). */
export function appointQuestion(name, leaderName) {
  return `Make ${name} the leader?${leaderName ? ` ${leaderName} no longer leads.` : ''} A song being sung goes on.`;
}

/**
 * The moderation. o: {remove(id), letBack(id), appoint(id)}, each queuing
 * the control for the next POST. Returns {render(v)} with v: {organiser
 * (bool), self (the organiser's own public id: no Remove on that row), rows
 * ([{id, name}], the console's), leader (public id or null), leaderName,
 * removed ([{id, name}])}.
 */
export function setupModeration(o) {
  const cells = new Map(); // public id -> {td, appoint, remove}
  let shownRemoved = '';
  const nameOf = new Map();

  function cellFor(id) {
    let c = cells.get(id);
    if (c && c.td.isConnected) return c;
    const tr = $('console-rows').querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (!tr) return null;
    const appoint = el('button', { attrs: { type: 'button' }, class: 'console-appoint secondary', text: 'Appoint leader' });
    const remove = el('button', { attrs: { type: 'button' }, class: 'console-remove danger', text: 'Remove' });
    appoint.addEventListener('click', async () => {
      const name = nameOf.get(id) || 'this singer';
      if (!(await askConfirm(appointQuestion(name, current.leaderName), 'Appoint'))) return;
      appoint.disabled = true;
      setTimeout(() => { appoint.disabled = false; }, AGAIN_MS);
      o.appoint(id);
    });
    remove.addEventListener('click', async () => {
      const name = nameOf.get(id) || 'this singer';
      if (!(await askConfirm(removeQuestion(name), 'Remove'))) return;
      remove.disabled = true;
      setTimeout(() => { remove.disabled = false; }, AGAIN_MS);
      o.remove(id);
    });
    const td = el('td', { class: 'console-moderate' }, appoint, ' ', remove);
    tr.append(td);
    c = { td, appoint, remove };
    cells.set(id, c);
    return c;
  }

  function renderRemoved(list) {
    const key = JSON.stringify(list);
    if (key === shownRemoved) return;
    shownRemoved = key;
    const ul = $('removed-list');
    ul.replaceChildren(...list.map((r) => {
      const back = el('button', { attrs: { type: 'button', 'aria-label': `Let ${r.name} back in` }, class: 'secondary', text: 'Let back in' });
      back.addEventListener('click', () => {
        back.disabled = true;
        setTimeout(() => { back.disabled = false; }, AGAIN_MS);
        o.letBack(r.id);
      });
      return el('li', {}, el('span', { class: 'removed-name', text: r.name }), ' ', back);
    }));
    show($('removed-none'), list.length === 0);
  }

  let current = { leaderName: '' };
  return {
    render(v) {
      current = v;
      show($('console-moderate-head'), v.organiser);
      show($('removed-wrap'), v.organiser);
      if (!v.organiser) {
        for (const c of cells.values()) show(c.td, false);
        return;
      }
      for (const r of v.rows) {
        nameOf.set(r.id, r.name);
        const c = cellFor(r.id);
        if (!c) continue;
        show(c.td, true);
        const leads = r.id === v.leader;
        show(c.appoint, !leads);
        show(c.remove, r.id !== v.self);
        c.appoint.setAttribute('aria-label', `Appoint ${r.name} the leader`);
        c.remove.setAttribute('aria-label', `Remove ${r.name} from the room`);
      }
      for (const [id, c] of cells) if (!c.td.isConnected) cells.delete(id);
      renderRemoved(v.removed);
    },
  };
}
