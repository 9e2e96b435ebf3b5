// Attachments of the consult being written: PDF, JPEG or PNG; photos scaled down in
// the browser before upload; each file uploads on its own (retrying while the link is
// down) and shows its state. The list lives as long as the page, so a change of
// screen or language does not lose an upload in progress.
import { upload, isMissing } from './api.js';
import { strings as S, t, num } from './i18n.js';
import { h, button } from './dom.js';
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
      fail(entry, e.status === 413 ? S.files.tooBig : e.fields?.file || e.message);
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

// filesField is the picker and the list; update() redraws the list.
export function filesField() {
  const input = h('input', { id: 'f-files', name: 'files', type: 'file', multiple: true,
    accept: 'application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png', 'aria-describedby': 'f-files-hint f-files-error' });
  const list = h('ul', { id: 'files', class: 'files', 'aria-label': S.files.list, 'aria-live': 'polite' });
  const err = h('p', { class: 'field-error', id: 'f-files-error', hidden: true });
  input.addEventListener('change', () => { addFiles([...input.files]); input.value = ''; });
  const el = h('div', { class: 'field wide', 'data-field': 'attachments' },
    h('label', { for: 'f-files', text: S.files.label }), input,
    h('p', { class: 'hint', id: 'f-files-hint', text: S.files.hint }), err, list);
  function update() {
    el.hidden = !available();
    input.disabled = files.length >= MAX_FILES;
    err.hidden = !files.limit;
    err.textContent = files.limit ? S.files.tooMany : '';
    files.limit = false;
    list.replaceChildren(...files.map((f) => {
      const state = { preparing: S.files.preparing, uploading: t(S.files.uploading, { p: num(f.progress, { style: 'percent' }) }),
        waiting: S.files.waiting, done: S.files.done, failed: t(S.files.failed, { error: f.error || '' }) }[f.state];
      return h('li', { class: `file ${f.state}`, 'data-state': f.state, 'data-attachment-id': f.id },
        h('span', { class: 'file-name', dir: 'auto', text: f.name }),
        h('span', { class: 'muted', text: f.size ? sizeText(f.size) : '' }),
        f.state === 'uploading' ? h('progress', { max: 1, value: f.progress, 'aria-label': f.name }) : null,
        h('span', { class: 'file-state', text: state }),
        f.state === 'failed' && f.blob ? button(S.retry, () => retry(f.lid), { class: 'small' }) : null,
        button(S.remove, () => removeFile(f.lid), { class: 'small', 'aria-label': `${S.remove}: ${f.name}` }));
    }));
  }
  update();
  return { el, update, input };
}
