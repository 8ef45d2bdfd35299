// console.js: the organiser's and the leader's console, a card of the page:
// every singer with a live level meter (the server's "levels", sent only
// to them: mixer/roles.h ROLE_ACT_LEVELS), their volume in the mix, and
// a Mute button that takes them out of the mix (their mic volume set to 0,
// which the server allows the leader and the organiser) and gives them
// back their volume. A singer the timing watch flags as consistently
// early or late (the server's "timing_flags", timingwatch.js) shows by how
// much, with an Apply button that has their client move its voice by it.
// Rows are made once per singer and updated in place, so the meters move
// without the buttons being rebuilt under a pointer.

import { $, el, setText, show } from './dom.js';
import { flagText } from '../timingwatch.js';

/** dB of full scale, -100 (silence) .. 0, from a levels row's value. */
export function levelText(db) {
  return db <= -100 ? 'silent' : `${db} dB`;
}

/**
 * The console's rows from the user summary, the levels and the timing
 * flags: [{id, name, db, micVolume, muted, timing}], singers only
 * (listeners have no level), in the summary's order. levels: [[publicId,
 * dB], ...]; flags: a Map from public id to {offsetMs, basis}
 * (timingwatch.js flagMap), timing null for a singer not flagged.
 */
export function consoleRows(users, levels, flags = new Map()) {
  const db = new Map((Array.isArray(levels) ? levels : []).filter((r) => Array.isArray(r) && r.length >= 2)
    .map((r) => [String(r[0]), Number(r[1])]));
  return users.filter((u) => db.has(u.id)).map((u) => ({
    id: u.id, name: u.name, db: db.get(u.id), micVolume: u.micVolume, muted: u.micVolume === 0,
    timing: flags.get(u.id) || null,
  }));
}

/**
 * The console. o: {mute(id, muted, volumeBefore), applyTiming(id)}.
 * Returns {render(rows, shown)}.
 */
export function setupConsole(o) {
  const body = $('console-rows');
  const made = new Map();
  const before = new Map(); // a muted singer's volume, to give back
  return {
    render(rows, shown) {
      show($('console-card'), shown);
      if (!shown) return;
      const keep = new Set(rows.map((r) => r.id));
      for (const [id, row] of made) {
        if (!keep.has(id)) {
          row.tr.remove();
          made.delete(id);
        }
      }
      for (const r of rows) {
        let row = made.get(r.id);
        if (!row) {
          const meter = el('meter', { attrs: { min: '-60', max: '0', low: '-40', high: '-6', optimum: '-20', 'aria-label': `Level of ${r.name}` } });
          const db = el('span', { class: 'console-db' });
          const vol = el('span', { class: 'console-vol' });
          const mute = el('button', { attrs: { type: 'button', 'aria-pressed': 'false' }, class: 'console-mute' });
          mute.addEventListener('click', () => {
            const cur = made.get(r.id);
            const muted = cur.muted;
            if (!muted) before.set(r.id, cur.micVolume || 1);
            o.mute(r.id, !muted, before.get(r.id) || 1);
          });
          const timing = el('span', { class: 'console-timing' });
          const apply = el('button', { attrs: { type: 'button' }, class: 'console-apply secondary', text: 'Apply' });
          apply.addEventListener('click', () => {
            apply.disabled = true;
            made.get(r.id).applied = made.get(r.id).flag;
            o.applyTiming(r.id);
          });
          const tr = el('tr', { attrs: { 'data-id': r.id } },
            el('td', { class: 'console-name' }), el('td', {}, meter, ' ', db), el('td', {}, vol),
            el('td', {}, timing, ' ', apply), el('td', {}, mute));
          body.append(tr);
          row = { tr, meter, db, vol, mute, timing, apply, flag: '', applied: '' };
          made.set(r.id, row);
        }
        row.muted = r.muted;
        row.micVolume = r.micVolume;
        setText(row.tr.firstChild, r.name);
        row.meter.value = Math.max(-60, r.db);
        setText(row.db, levelText(r.db));
        setText(row.vol, r.micVolume.toFixed(2));
        setText(row.mute, r.muted ? 'Unmute' : 'Mute');
        row.mute.setAttribute('aria-pressed', String(r.muted));
        row.mute.setAttribute('aria-label', `${r.muted ? 'Unmute' : 'Mute'} ${r.name}`);
        // Apply stays disabled while the same flag stands after a click: the
        // singer's client applies it at their next request, and the watch
        // starts over.
        row.flag = flagText(r.timing);
        if (row.flag !== row.applied) row.applied = '';
        setText(row.timing, row.flag || '—');
        show(row.apply, !!r.timing);
        row.apply.disabled = row.applied !== '';
        if (r.timing) row.apply.setAttribute('aria-label', `Apply ${row.flag} for ${r.name}`);
      }
      show($('console-empty'), rows.length === 0);
    },
  };
}
