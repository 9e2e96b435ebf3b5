// Attachments of the consult being written: PDF, JPEG or PNG; photos scaled down in
// the browser before upload; each file uploads on its own (retrying while the link is
// down) and shows its state. The list lives as long as the page, so a change of
// screen or language does not lose an upload in progress.
import { upload, isMissing, errorText } from './api.js';
import { strings as S, t, num, problemText } from './i18n.js';
import { h, button, announce } from './dom.js';
import { changed } from './store.js';

export const MAX_FILES = 10;
const MAX_BYTES = 10 << 20;
const MAX_SIDE = 2000;
const TYPES = { 'application/pdf': 'pdf', 'image/jpeg': 'jpg', 'image/png': 'png' };
const BY_EXT = { pdf: 'application/pdf', jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png' };

// files: {lid, name, type, size, state: preparing|uploading|waiting|done|failed, progress, id, error}
export const files = [];
let seq = 0;
let onSaved = () => {};
export const setSaveHook = (fn) => { onSaved = fn; };
export const available = () => !isMissing('attachments');
export const doneFiles = () => files.filter((f) => f.state === 'done').map(({ id, name, type, size }) => ({ id, name, type, size }));
export const inflightNames = () => files.filter((f) => f.state !== 'done' && f.state !== 'failed').map((f) => f.name);
export const busy = () => files.some((f) => f.state !== 'done' && f.state !== 'failed');

// restore puts back what the draft says was uploaded.
export function restore(list) {
  for (const a of list || []) {
    if (a?.id && !files.some((f) => f.id === a.id)) files.push({ lid: ++seq, ...a, state: 'done', progress: 1 });
  }
}
export function clearFiles() { files.length = 0; changed(); }
export function removeFile(lid) {
  const i = files.findIndex((f) => f.lid === lid);
  if (i >= 0) { files[i].removed = true; files.splice(i, 1); onSaved(); changed(); }
}

const typeOf = (file) => (TYPES[file.type] ? file.type : BY_EXT[String(file.name).split('.').pop().toLowerCase()] || '');

export function addFiles(list) {
  for (const file of list) {
    const entry = { lid: ++seq, name: file.name, type: typeOf(file), size: file.size, state: 'preparing', progress: 0 };
    if (files.length >= MAX_FILES) { flashLimit(); break; }
    files.push(entry);
    if (!entry.type) fail(entry, S.files.badType);
    else entry.promise = prepare(file, entry).then(() => send(entry));
    entry.promise?.catch(() => {});
  }
  onSaved();
  changed();
}
function flashLimit() { files.limit = true; }
function fail(entry, message) { Object.assign(entry, { state: 'failed', error: message }); changed(); }

const toBlob = (canvas, type, q) => new Promise((resolve) => canvas.toBlob(resolve, type, q));
const rename = (name, ext) => (String(name).replace(/\.[^.]*$/, '') || 'image') + '.' + ext;

// prepare scales photos so the longest side is at most 2000 px, as JPEG at quality
// 0.85 (which also drops the camera's metadata, location included); a PNG stays PNG
// (a screenshot, usually) when that is smaller.
async function prepare(file, entry) {
  let blob = file;
  if (entry.type !== 'application/pdf') {
    try {
      const bmp = await createImageBitmap(file);
      const scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(bmp.width * scale));
      canvas.height = Math.max(1, Math.round(bmp.height * scale));
      const ctx = canvas.getContext('2d');
      let png = null;
      if (entry.type === 'image/png') {
        if (scale < 1) { ctx.drawImage(bmp, 0, 0, canvas.width, canvas.height); png = await toBlob(canvas, 'image/png'); } else png = file;
      }
      ctx.fillStyle = '#fff'; // transparency becomes white, not black
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(bmp, 0, 0, canvas.width, canvas.height);
      bmp.close?.();
      const jpeg = await toBlob(canvas, 'image/jpeg', 0.85);
      if (png && (!jpeg || png.size <= jpeg.size)) blob = png;
      else if (jpeg) { blob = jpeg; entry.type = 'image/jpeg'; if (!/\.jpe?g$/i.test(entry.name)) entry.name = rename(entry.name, 'jpg'); }
    } catch {
      // The browser cannot decode it: send it as it is, and let the server judge.
    }
  }
  if (blob.size > MAX_BYTES) { fail(entry, S.files.tooBig); throw new Error('too large'); }
  entry.blob = blob;
  entry.size = blob.size;
}

const sleep = (ms) => new Promise((resolve) => {
  const done = () => { clearTimeout(id); window.removeEventListener('online', done); resolve(); };
  const id = setTimeout(done, ms);
  window.addEventListener('online', done);
});

async function send(entry) {
  for (let attempt = 0; !entry.removed; attempt++) {
    Object.assign(entry, { state: 'uploading', progress: 0 });
    changed();
    try {
      const r = await upload('/api/v1/attachments', entry.blob, entry.name, (p) => { entry.progress = p; changed(); });
      const a = r?.attachment || r || {};
      Object.assign(entry, { state: 'done', progress: 1, id: a.id, name: a.name || entry.name, type: a.type || entry.type, size: a.size ?? entry.size });
      delete entry.blob;
      onSaved();
      changed();
      return entry.id;
    } catch (e) {
      if (entry.removed) break;
      if (e.retryable) {
        entry.state = 'waiting';
        changed();
        await sleep(e.retryAfter * 1000 || Math.min(30000, 1000 * 2 ** attempt));
        continue;
      }
      if (!available()) { removeFile(entry.lid); throw e; }
      const p = e.problems?.file;
      fail(entry, e.status === 413 ? S.files.tooBig : p?.code === 'not_allowed' ? S.files.badType
        : e.fields?.file ? problemText(p, e.fields.file) : errorText(e));
      throw e;
    }
  }
  throw new Error('removed');
}

// retry sends a failed file again (after a server refusal that may have been passing).
export function retry(lid) {
  const entry = files.find((f) => f.lid === lid);
  if (!entry?.blob) return;
  entry.promise = send(entry);
  entry.promise.catch(() => {});
}

// settled waits until no file is still on its way.
export async function settled() {
  await Promise.allSettled(files.map((f) => f.promise).filter(Boolean));
}

export const sizeText = (n) => t(S.files.size, { n: num(Math.max(1, Math.round((n || 0) / 1024))) });

// filesField is the picker and the list; update() brings the list up to date. The browser's
// own file control speaks the browser's language, so it is hidden behind a button-like label
// in the page's; each file's row is kept and changed in place, so focus on its buttons
// survives progress updates. Uploaded and failed files are announced once.
export function filesField() {
  const input = h('input', { id: 'f-files', name: 'files', type: 'file', multiple: true, class: 'file-input',
    accept: 'application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png', 'aria-describedby': 'f-files-chosen f-files-hint f-files-limit f-files-error' });
  const pick = h('label', { for: 'f-files', class: 'button file-button', id: 'f-files-button' });
  const chosen = h('span', { class: 'muted', id: 'f-files-chosen' });
  const title = h('span', { class: 'field-title', id: 'f-files-title' });
  const hint = h('p', { class: 'hint', id: 'f-files-hint' });
  const list = h('ul', { id: 'files', class: 'files', 'aria-labelledby': 'f-files-title' });
  const err = h('p', { class: 'field-error', id: 'f-files-error', hidden: true }); // the server's word on the files
  const limit = h('p', { class: 'field-error', id: 'f-files-limit', hidden: true });
  input.setAttribute('aria-labelledby', 'f-files-title f-files-button');
  input.addEventListener('change', () => { addFiles([...input.files]); input.value = ''; });
  const el = h('div', { class: 'field wide', 'data-field': 'attachments' },
    title, h('div', { class: 'file-pick' }, input, pick, chosen), hint, limit, err, list);
  const rows = new Map(); // lid -> {li, size, bar, state, retry, remove, was}
  function row(f) {
    const r = { li: h('li', { class: 'file' }), name: h('span', { class: 'file-name', dir: 'auto' }), size: h('span', { class: 'muted' }),
      bar: h('progress', { max: 1 }), state: h('span', { class: 'file-state' }),
      retry: button(S.retry, () => retry(f.lid), { class: 'small', 'data-action': 'retry' }),
      remove: button(S.remove, () => removeFile(f.lid), { class: 'small', 'data-action': 'remove' }), was: f.state };
    r.li.append(r.name, r.size, r.bar, r.state, r.retry, r.remove);
    return r;
  }
  function update() {
    el.hidden = !available();
    input.disabled = files.length >= MAX_FILES;
    if (files.limit) { limit.hidden = false; limit.textContent = S.files.tooMany; announce(S.files.tooMany); }
    else if (files.length < MAX_FILES) limit.hidden = true;
    files.limit = false;
    title.textContent = S.files.label;
    pick.textContent = S.files.choose;
    hint.textContent = S.files.hint;
    chosen.textContent = files.length ? t(S.files.count, { n: num(files.length) }) : S.files.noneChosen;
    const hadFocus = list.contains(document.activeElement) ? document.activeElement : null;
    for (const [lid, r] of rows) if (!files.some((f) => f.lid === lid)) rows.delete(lid);
    const els = files.map((f) => {
      let r = rows.get(f.lid);
      if (!r) rows.set(f.lid, r = row(f));
      const stateText = { preparing: S.files.preparing, uploading: t(S.files.uploading, { p: num(f.progress, { style: 'percent' }) }),
        waiting: S.files.waiting, done: S.files.done, failed: t(S.files.failed, { error: f.error || '' }) }[f.state];
      r.li.className = `file ${f.state}`;
      r.li.dataset.state = f.state;
      if (f.id) r.li.dataset.attachmentId = f.id;
      if (r.name.textContent !== f.name) r.name.textContent = f.name;
      r.size.textContent = f.size ? sizeText(f.size) : '';
      r.bar.hidden = f.state !== 'uploading';
      r.bar.value = f.progress || 0;
      r.bar.setAttribute('aria-label', f.name);
      r.state.textContent = stateText;
      r.retry.hidden = !(f.state === 'failed' && f.blob);
      r.retry.textContent = S.retry;
      r.remove.textContent = S.remove;
      r.remove.setAttribute('aria-label', `${S.remove}: ${f.name}`);
      if (r.was !== f.state && (f.state === 'done' || f.state === 'failed')) announce(`${f.name}: ${stateText}`);
      r.was = f.state;
      return r.li;
    });
    const now = [...list.children];
    if (now.length !== els.length || now.some((x, i) => x !== els[i])) list.replaceChildren(...els);
    // A removed row's focus goes to the picker.
    if (hadFocus && !hadFocus.isConnected) input.focus();
  }
  update();
  return { el, update, input };
}
