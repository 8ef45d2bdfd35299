// presence.js: one singer, one tab. Two tabs of the same browser in the
// same room would be the same singer (the same userid) twice, each
// starting the other's connection over. The tabs talk over a
// BroadcastChannel named after the room: a tab that loads asks whether
// another one sings there, and is told so (with the name); the page then
// says that continuing here stops the other tab. A tab that starts singing
// tells the others to stop, and one that is told so stops and says why.
// Browsers without BroadcastChannel get nothing of this.

/**
 * Starts watching the room's channel. on: {otherTab(name) (another tab of
 * this browser sings here), takenOver() (another tab took over from this
 * one)}. Returns {singing(name): this tab sings now (the others stop),
 * close()}.
 */
export function watchPresence(roomId, on) {
  if (typeof BroadcastChannel === 'undefined') return { singing() {}, close() {} };
  const ch = new BroadcastChannel(`bb-singer-${roomId || ''}`);
  const me = Math.random().toString(36).slice(2);
  let name = null;
  ch.onmessage = (e) => {
    const m = e.data || {};
    if (m.from === me) return;
    if (m.type === 'hello' && name !== null) ch.postMessage({ type: 'here', to: m.from, from: me, name });
    else if (m.type === 'here' && m.to === me) on.otherTab(String(m.name || ''));
    else if (m.type === 'takeover' && name !== null) {
      name = null;
      on.takenOver();
    }
  };
  ch.postMessage({ type: 'hello', from: me });
  return {
    singing(n) {
      name = String(n);
      ch.postMessage({ type: 'takeover', from: me });
    },
    close() { ch.close(); },
  };
}
