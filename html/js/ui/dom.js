// dom.js: small DOM helpers. Text always goes in through textContent, so
// anything a user typed (names, chat) is shown as text and never parsed as
// HTML; nothing in this client assigns innerHTML.

/** The element with this id; throws if the page lacks it (a bug). */
export function $(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page element #${id} is missing`);
  return e;
}

/**
 * Creates an element. props: {class, text, attrs: {name: value}, on:
 * {event: fn}}; children are nodes or strings (added as text nodes).
 */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  if (props.class) e.className = props.class;
  if (props.text != null) e.textContent = String(props.text);
  for (const [k, v] of Object.entries(props.attrs || {})) e.setAttribute(k, String(v));
  for (const [k, fn] of Object.entries(props.on || {})) e.addEventListener(k, fn);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** Shows or hides an element (the hidden attribute). */
export function show(e, visible) {
  e.hidden = !visible;
}

/**
 * The number typed into input when it is one from min to max (a whole
 * number with integer), else null, with message shown on the field.
 */
export function numberIn(input, min, max, { integer = false, message }) {
  const v = Number(input.value);
  const ok = input.value.trim() !== '' && Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v));
  input.setCustomValidity(ok ? '' : message);
  if (!ok) input.reportValidity();
  return ok ? v : null;
}

/** Sets an element's text if it changed (avoids needless layout work). */
export function setText(e, text) {
  const s = String(text);
  if (e.textContent !== s) e.textContent = s;
}
