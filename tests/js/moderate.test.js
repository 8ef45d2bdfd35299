// moderate.test.js: the pure parts of the organiser's moderation
// (html/js/ui/moderate.js): the removed list from an answer, and the
// questions asked before removing and appointing.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { appointQuestion, removedList, removeQuestion } from '../../html/js/ui/moderate.js';

test('removed list: rows of [public id, name], anything else left out', () => {
  assert.deepEqual(removedList([['123', 'Sam'], ['456', 'Ann <b>']]),
    [{ id: '123', name: 'Sam' }, { id: '456', name: 'Ann <b>' }]);
  assert.deepEqual(removedList([['1'], 'x', null, [7, 8]]), [{ id: '7', name: '8' }]);
  assert.deepEqual(removedList(undefined), []);
  assert.deepEqual(removedList({}), []);
});

test('questions name the singer and what follows', () => {
  assert.match(removeQuestion('Sam'), /^Remove Sam from the room\?.*let them back in/);
  assert.match(appointQuestion('Lena', 'Olga'), /^Make Lena the leader\? Olga no longer leads\./);
  assert.equal(appointQuestion('Lena', ''), 'Make Lena the leader? A song being sung goes on.');
});
