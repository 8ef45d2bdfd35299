// console.js: the organiser's and the leader's console, a card of the page:
// every singer with a live level meter (the server's "levels", sent only
// to them: mixer/roles.h ROLE_ACT_LEVELS), their volume in the mix, and
// a Mute button that takes them out of the mix (their mic volume set to 0,
// which the server allows the leader and the organiser) and gives them
// back their volume. A singer the timing watch flags as consistently
// early or late (the server's "timing_flags", timingwatch.js) shows by how
// much, with an Apply button that has their client move its voice by it.
// Each row also says how the singer's requests arrive ("ok", "late",
// "dropping") and how their latency was calibrated, and has a Solo toggle:
// the organiser or the leader hears the singers toggled alone (with the
// backing), "Hear everyone" ends it (PROTOCOL.md §9.12, §9.13).
// Rows are made once per singer and updated in place, so the meters move
// without the buttons being rebuilt under a pointer.

import { $, el, setText, show } from './dom.js';

/** Singers one listener may hear alone at once (the server's bound). */
export const SOLO_MAX = 8;
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
export function consoleRows(users, levels, flags = new Map(), solo = []) {
  const rows = new Map((Array.isArray(levels) ? levels : []).filter((r) => Array.isArray(r) && r.length >= 2)
    .map((r) => [String(r[0]), r]));
  const soloed = new Set(solo.map(String));
  return users.filter((u) => rows.has(u.id)).map((u) => ({
    id: u.id, name: u.name, db: Number(rows.get(u.id)[1]), micVolume: u.micVolume, muted: u.micVolume === 0,
    timing: flags.get(u.id) || null,
    ...linkAndCalib(rows.get(u.id)),
    soloed: soloed.has(u.id),
  }));
}

/**
 * A levels row's link state and calibration ([id, dB, link, calibration,
 * ms], PROTOCOL.md §9.13): {link: "ok" | "late" | "dropping", calib:
 * "measured" | "estimated" | "none", calibMs}. A row of an older server
 * (two entries) reads as ok and not told.
 */
export function linkAndCalib(row) {
  const link = ['ok', 'late', 'dropping'].includes(row[2]) ? row[2] : 'ok';
  const calib = ['measured', 'estimated'].includes(row[3]) ? row[3] : 'none';
  const ms = Number(row[4]);
  return { link, calib, calibMs: calib !== 'none' && Number.isFinite(ms) ? ms : null };
}

/** The Calibration cell: "42 ms", "≈150 ms (estimated)" or "not told". */
export function calibText(calib, ms) {
  if (calib === 'measured') return `${ms} ms`;
  if (calib === 'estimated') return `≈${ms} ms (estimated)`;
  return 'not told';
}

/**
 * The selection after toggling singer `id` in `current` (public ids):
 * added or taken out, in the order chosen. null when it would exceed
 * SOLO_MAX (the page then says so rather than send what the server
 * refuses).
 */
export function soloToggle(current, id) {
  if (current.includes(id)) return current.filter((x) => x !== id);
  return current.length >= SOLO_MAX ? null : [...current, id];
}

/** The line above the table while soloing: whom the listener hears. */
export function soloText(rows, selection) {
  const names = selection.map((id) => (rows.find((r) => r.id === id) || { name: 'a singer who left' }).name);
  return names.length ? `You hear ${names.join(', ')} alone.` : '';
}

/**
 * The console's solos: the selection the page shows is the server's
 * (`solo` in the answers) except for a moment after a click, when it is
 * the one just sent (SOLO_WAIT_MS, or until the server agrees). o.solo(ids)
 * sends a selection, o.notice(text) tells the user something.
 */
const SOLO_WAIT_MS = 4000;

function setupSolos(o) {
  let server = [];
  let sent = null;
  let sentAt = 0;
  const same = (a, b) => a.length === b.length && a.every((x) => b.includes(x));
  const current = () => (sent && Date.now() - sentAt < SOLO_WAIT_MS && !same(sent, server) ? sent : server);
  const choose = (ids) => {
    sent = ids;
    sentAt = Date.now();
    o.solo(ids);
  };
  $('console-hear-all').addEventListener('click', () => choose([]));
  return {
    setServer(ids) { server = ids; },
    current,
    toggle(id) {
      const next = soloToggle(current(), id);
      if (next === null) o.notice(`At most ${SOLO_MAX} singers can be heard alone at once.`);
      else choose(next);
    },
    // The line and "Hear everyone" above the table, while soloing.
    render(rows) {
      const sel = current();
      show($('console-solo-bar'), sel.length > 0);
      setText($('console-solo-text'), soloText(rows, sel));
    },
  };
}

/** A row's Link, Calibration and Solo cells, updated in place. */
function renderSoloCells(row, r, soloed) {
  setText(row.link, r.link);
  row.link.className = `console-link link-${r.link}`;
  setText(row.calib, calibText(r.calib, r.calibMs));
  setText(row.solo, 'Solo');
  row.solo.setAttribute('aria-pressed', String(soloed));
  row.solo.setAttribute('aria-label', `${soloed ? 'Stop hearing' : 'Hear'} ${r.name} alone`);
  row.solo.classList.toggle('secondary', !soloed);
}

/**
 * The console. o: {mute(id, muted, volumeBefore), applyTiming(id),
 * solo(ids), notice(text)}. Returns {render(rows, shown, solo)} (solo: the
 * server's selection, public ids).
 */
export function setupConsole(o) {
  const body = $('console-rows');
  const made = new Map();
  const before = new Map(); // a muted singer's volume, to give back
  const solos = setupSolos(o);
  const last = { rows: [], solo: [] };
  const view = {
    render(rows, shown, solo = []) {
      show($('console-card'), shown);
      if (!shown) return;
      last.rows = rows;
      last.solo = solo;
      solos.setServer(solo);
      const selection = solos.current();
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
          const link = el('span', { class: 'console-link' });
          const calib = el('span', { class: 'console-calib' });
          const solo = el('button', { attrs: { type: 'button', 'aria-pressed': 'false' }, class: 'console-solo' });
          solo.addEventListener('click', () => {
            solos.toggle(r.id);
            view.render(last.rows, true, last.solo);
          });
          const tr = el('tr', { attrs: { 'data-id': r.id } },
            el('td', { class: 'console-name' }), el('td', {}, meter, ' ', db),
            el('td', { attrs: { 'data-label': 'Link' } }, link), el('td', { attrs: { 'data-label': 'Calibration' } }, calib),
            el('td', { attrs: { 'data-label': 'Volume' } }, vol),
            el('td', { attrs: { 'data-label': 'Timing' } }, timing, ' ', apply), el('td', { class: 'console-buttons' }, solo, ' ', mute));
          body.append(tr);
          row = { tr, meter, db, vol, mute, timing, apply, link, calib, solo, flag: '', applied: '' };
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
        renderSoloCells(row, r, selection.includes(r.id));
      }
      solos.render(rows);
      show($('console-empty'), rows.length === 0);
    },
  };
  return view;
}
