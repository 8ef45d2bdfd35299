// buckets.js: the bucket columns, the people table and the monitoring list.
//
// Input is the parsed user_summary (protocol.js parseUserSummary) plus the
// server's bucket delays. Every name is set as text (dom.js).

import { el } from './dom.js';
import { groupIntoBuckets } from '../protocol.js';

/**
 * Renders the bucket columns into container. opts: {myId, myOffset,
 * leaderId, listenOnly, onJoin(delaySeconds)}. The column holding this
 * singer is marked; every bucket column has a Join button.
 */
export function renderBuckets(container, users, buckets, opts) {
  const cols = groupIntoBuckets(users, buckets);
  const nodes = cols.map((c, i) => {
    const mine = c.users.some((u) => u.id === opts.myId) ||
      (!c.users.length && opts.myOffset === c.delay);
    const title = c.isBucket ? (i === 0 && buckets && buckets[0] === c.delay ? `Leader · ${c.delay} s` : `Bucket · ${c.delay} s`) : `${c.delay} s behind`;
    const list = el('ul', {});
    for (const u of c.users) {
      const tags = [];
      if (u.id === opts.leaderId) tags.push('leader');
      if (u.id === opts.myId) tags.push('you');
      if (u.isMonitoring) tags.push('monitoring');
      if (u.isMonitored) tags.push('monitored');
      const li = el('li', { class: u.id === opts.myId ? 'me' : '' }, u.name || '(no name)');
      if (tags.length) li.append(` (${tags.join(', ')})`);
      list.append(li);
    }
    if (!c.users.length) list.append(el('li', { class: 'hint', text: 'empty' }));
    const col = el('section', { class: 'bucket' + (mine ? ' mine' : ''), attrs: { 'aria-label': title } },
      el('h3', { text: title }), list);
    if (c.isBucket && !mine) {
      col.append(el('button', {
        text: 'Join', attrs: { type: 'button', 'aria-label': `Join the bucket ${c.delay} seconds behind` },
        on: { click: () => opts.onJoin(c.delay) },
      }));
    } else if (mine) {
      col.append(el('p', { class: 'hint', text: 'You are here' }));
    }
    return col;
  });
  container.replaceChildren(...nodes);
}

/** Renders the people table: position, name and mic volume of each user. */
export function renderPeople(tbody, users, myId) {
  const rows = users.map((u) => el('tr', { class: u.id === myId ? 'me' : '' },
    el('td', { text: `${u.delay} s` }),
    el('td', { text: u.id === myId ? `${u.name} (you)` : u.name }),
    el('td', { text: u.micVolume.toFixed(2) })));
  tbody.replaceChildren(...rows);
}

/**
 * Fills the monitoring selector with the other users ("name -- vol" when
 * the volume is not 1), keeping the current choice when it is still there.
 */
export function renderMonitorSelect(select, users, myId) {
  const keep = select.value;
  const opts = users.filter((u) => u.id !== myId).map((u) =>
    el('option', { attrs: { value: u.id }, text: u.micVolume !== 1 ? `${u.name} -- ${u.micVolume}` : u.name }));
  if (!opts.length) opts.push(el('option', { attrs: { value: '' }, text: '(nobody else yet)' }));
  select.replaceChildren(...opts);
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}
