// chat.js: the chat log. Messages are text nodes, never HTML.

import { el } from './dom.js';

const MAX_LINES = 300;

/**
 * Appends "name: text" to the log (an <ol>) and scrolls to it if the reader
 * was at the bottom. kind "event" shows a timed event cue, kind "notice"
 * a line from the page itself (text only, no name).
 */
export function appendChat(log, name, text, kind = 'chat') {
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 30;
  const li = kind === 'event'
    ? el('li', { class: 'event', text: `EVENT: ${text}` })
    : kind === 'notice'
      ? el('li', { class: 'notice', text })
      : el('li', {}, el('span', { class: 'who', text: name }), ': ', el('span', { class: 'msg', text }));
  log.append(li);
  while (log.children.length > MAX_LINES) log.firstElementChild.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}
