// Unit tests of the console's pure parts (html/js/ui/console.js): the
// rows' link state and calibration, the solo selection and its line, and
// the calib parameter the page sends (html/js/ui/timing.js, protocol.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  calibText, consoleRows, linkAndCalib, SOLO_MAX, soloText, soloToggle,
} from '../../html/js/ui/console.js';
import { calibParam } from '../../html/js/ui/timing.js';
import { buildAudioQuery } from '../../html/js/protocol.js';

const users = [
  { id: '11', name: 'Ann', micVolume: 1 },
  { id: '22', name: 'Ben', micVolume: 0 },
  { id: '33', name: 'Lis', micVolume: 1 },
];

test('rows carry link, calibration and whether the singer is soloed', () => {
  const levels = [['11', -12, 'late', 'measured', 42], ['22', -100, 'dropping', 'estimated', 150]];
  const rows = consoleRows(users, levels, new Map(), ['22']);
  assert.deepEqual(rows.map((r) => [r.id, r.db, r.link, r.calib, r.calibMs, r.soloed, r.muted]), [
    ['11', -12, 'late', 'measured', 42, false, false],
    ['22', -100, 'dropping', 'estimated', 150, true, true],
  ]);
});

test('a short or odd levels row reads as ok and not told', () => {
  assert.deepEqual(linkAndCalib(['11', -3]), { link: 'ok', calib: 'none', calibMs: null });
  assert.deepEqual(linkAndCalib(['11', -3, 'weird', 'bogus', 'x']), { link: 'ok', calib: 'none', calibMs: null });
  assert.deepEqual(linkAndCalib(['11', -3, 'ok', 'none', 0]), { link: 'ok', calib: 'none', calibMs: null });
});

test('calibration text', () => {
  assert.equal(calibText('measured', 42), '42 ms');
  assert.equal(calibText('estimated', 150), '≈150 ms (estimated)');
  assert.equal(calibText('none', null), 'not told');
});

test('solo toggles add in order, take out, and stop at the bound', () => {
  assert.deepEqual(soloToggle([], '11'), ['11']);
  assert.deepEqual(soloToggle(['11'], '33'), ['11', '33']);
  assert.deepEqual(soloToggle(['11', '33'], '11'), ['33']);
  const full = Array.from({ length: SOLO_MAX }, (_, i) => String(i + 100));
  assert.equal(soloToggle(full, '11'), null);
  assert.deepEqual(soloToggle(full, '100'), full.slice(1));
});

test('the solo line names whom one hears', () => {
  const rows = consoleRows(users, [['11', -3], ['22', -3]]);
  assert.equal(soloText(rows, []), '');
  assert.equal(soloText(rows, ['11', '22']), 'You hear Ann, Ben alone.');
  assert.equal(soloText(rows, ['99']), 'You hear a singer who left alone.');
});

test('calib parameter: measured, estimated, assumed, none', () => {
  assert.equal(calibParam('measured', 41.6), 'measured:42');
  assert.equal(calibParam('estimated', 150), 'estimated:150');
  assert.equal(calibParam('assumed', 100), 'estimated:100');
  assert.equal(calibParam(null, 100), null);
  assert.equal(calibParam('measured', null), null);
  assert.equal(calibParam('measured', 99999), 'measured:5000');
});

test('the query carries solo and calib', () => {
  const base = { readClock: 28800, nSamples: 28800, userid: '1', username: 'a' };
  const q = new URLSearchParams(buildAudioQuery({ ...base, solo: '11,22', calib: 'measured:42' }));
  assert.equal(q.get('solo'), '11,22');
  assert.equal(q.get('calib'), 'measured:42');
  const none = new URLSearchParams(buildAudioQuery({ ...base, solo: 'none' }));
  assert.equal(none.get('solo'), 'none');
  const quiet = new URLSearchParams(buildAudioQuery({ ...base, solo: '', calib: null }));
  assert.equal(quiet.has('solo'), false);
  assert.equal(quiet.has('calib'), false);
});
