// The playground page: a form built from the option table (GET /v1/options), a crop preview for the chosen size, the
// job followed over SSE with its live preview, the result with Reroll / More / Less motion, and a
// gallery of this browser's jobs. Plain browser JavaScript, no framework; everything goes through
// the public job API. User text is only ever set with textContent, never as HTML.
// Who this browser is: the sidecar's session cookie (HttpOnly), set when it served this page.

const $ = (id) => document.getElementById(id);
const GALLERY = 'stillmotion.gallery';
const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

let model = null;
let specs = [];
/** The pictures of this page's jobs, for Reroll and More/Less motion (not kept across reloads). */
const pictures = new Map();
let picked = null;
let current = null;
let source = null;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') node.textContent = v;
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

async function api(path, init) {
  const res = await fetch(path, init);
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) {
    const err = new Error(body?.error ?? `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.option = body?.option;
    throw err;
  }
  return body;
}

// ---- Gallery (localStorage) -------------------------------------------------------------------

function gallery() {
  try {
    const list = JSON.parse(localStorage.getItem(GALLERY) ?? '[]');
    return Array.isArray(list) ? list.filter((x) => x && typeof x.id === 'string') : [];
  } catch {
    return [];
  }
}

function remember(entry) {
  const list = [entry, ...gallery().filter((x) => x.id !== entry.id)].slice(0, 12);
  try {
    localStorage.setItem(GALLERY, JSON.stringify(list));
  } catch {
    // Storage full: keep the newest without thumbnails.
    localStorage.setItem(GALLERY, JSON.stringify(list.map((x) => ({ ...x, thumb: undefined }))));
  }
}

/** The options as the CLI spells them, in the option table's order (the prompt is shown apart). */
function optionText(options) {
  const o = options ?? {};
  const names = specs.length ? specs.map((spec) => spec.name) : Object.keys(o);
  return names
    .filter((k) => k !== 'prompt' && o[k] !== undefined)
    .map((k) => `--${k} ${Array.isArray(o[k]) ? o[k].join('-') : o[k]}`)
    .join(' ');
}

async function renderGallery() {
  const list = $('recent');
  const entries = gallery();
  const jobs = await Promise.all(
    entries.map((e) => api(`/v1/jobs/${encodeURIComponent(e.id)}`).catch(() => null)),
  );
  list.replaceChildren();
  entries.forEach((entry, i) => {
    const job = jobs[i];
    const li = el('li', { 'data-id': entry.id });
    if (entry.thumb) li.append(el('img', { src: entry.thumb, alt: '', class: 'thumb' }));
    const body = el('div');
    const open = el('button', { type: 'button', class: 'link', text: entry.prompt || 'untitled' });
    open.setAttribute(
      'aria-label',
      `Show job ${entry.prompt || 'untitled'}, seed ${job?.seed ?? entry.seed ?? '?'}`,
    );
    open.addEventListener('click', () => follow(entry.id));
    body.append(open, el('span', { class: 'state', text: ` ${job ? job.state : 'expired'}` }));
    body.append(el('code', { class: 'options', text: optionText(job?.options ?? entry.options) }));
    li.append(body);
    if (job && !TERMINAL.has(job.state)) {
      const cancel = el('button', { type: 'button', text: 'Cancel' });
      cancel.setAttribute('aria-label', `Cancel job ${entry.id}`);
      cancel.addEventListener('click', () => cancelJob(entry.id, cancel));
      li.append(cancel);
    }
    list.append(li);
  });
  if (!list.children.length) list.append(el('li', { text: 'None yet.' }));
}

// ---- The form, from the option table ----------------------------------------------------------

function fieldFor(spec) {
  const id = spec.name;
  const wrap = el('div', { class: `field field-${id}` });
  const label = el('label', { for: id, text: id[0].toUpperCase() + id.slice(1) });
  const hint = el('span', {
    id: `${id}-hint`,
    class: 'hint',
    text: `${spec.range} · default ${spec.defaultText}`,
  });
  const error = el('span', { id: `${id}-error`, class: 'field-error', role: 'alert' });
  let input;
  if (spec.kind === 'text') {
    input = el('textarea', { id, name: id, rows: '2' });
    if (spec.maxLength !== undefined) input.setAttribute('maxlength', String(spec.maxLength));
  } else if (spec.kind === 'choice') {
    input = el('select', { id, name: id });
    input.append(el('option', { value: '', text: `default (${spec.defaultText})` }));
    for (const c of spec.choices ?? []) input.append(el('option', { value: c, text: c }));
  } else if (spec.kind === 'integer' || spec.kind === 'number') {
    input = el('input', { id, name: id, type: 'number', step: spec.integer ? '1' : 'any' });
    if (spec.min !== undefined) input.setAttribute('min', String(spec.min));
    if (spec.max !== undefined) input.setAttribute('max', String(spec.max));
    input.setAttribute('inputmode', spec.integer ? 'numeric' : 'decimal');
  } else {
    input = el('input', { id, name: id, type: 'text' });
    if (spec.choices) {
      input.setAttribute('list', `${id}-choices`);
      const list = el('datalist', { id: `${id}-choices` });
      for (const c of spec.choices) list.append(el('option', { value: c }));
      wrap.append(list);
    }
  }
  input.setAttribute('aria-describedby', `${id}-hint ${id}-error`);
  input.placeholder = input.tagName === 'SELECT' ? '' : spec.defaultText;
  input.addEventListener('input', () => clearError(id));
  wrap.prepend(label);
  wrap.append(input, hint, error);
  if (spec.note) wrap.append(el('p', { id: `${id}-note`, class: 'hint', text: spec.note }));
  return wrap;
}

function clearError(name) {
  const error = $(`${name}-error`);
  if (error) error.textContent = '';
  $(name)?.removeAttribute('aria-invalid');
}

function showError(err) {
  if (err.option && $(`${err.option}-error`)) {
    $(`${err.option}-error`).textContent = err.message;
    $(err.option).setAttribute('aria-invalid', 'true');
    $(err.option).focus();
  } else {
    $('form-error').textContent = err.message;
  }
}

function formOptions() {
  const options = {};
  for (const spec of specs) {
    const value = $(spec.name)?.value.trim();
    if (value) options[spec.name] = value;
  }
  return options;
}

// ---- The crop the chosen size will use --------------------------------------------------------

let pictureBitmap = null;

async function drawCrop() {
  const figure = $('crop-figure');
  if (!pictureBitmap) {
    figure.hidden = true;
    return;
  }
  const { width: w, height: h } = pictureBitmap;
  const mode = $('size')?.value || 'auto';
  let size;
  try {
    size = (await api(`/v1/sizes?width=${w}&height=${h}`))[mode];
  } catch (err) {
    $('crop-note').textContent = err.message;
    return;
  }
  const canvas = $('crop');
  const scale = Math.min(1, 320 / w, 200 / h);
  canvas.width = Math.round(w * scale);
  canvas.height = Math.round(h * scale);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(pictureBitmap, 0, 0, canvas.width, canvas.height);
  // Resize to cover, then centre-crop: the kept part of the picture is (W/s) × (H/s).
  const cover = Math.max(size.width / w, size.height / h);
  const cw = (size.width / cover) * scale;
  const ch = (size.height / cover) * scale;
  const x = (canvas.width - cw) / 2;
  const y = (canvas.height - ch) / 2;
  ctx.fillStyle = 'rgba(0, 0, 0, 0.55)';
  ctx.fillRect(0, 0, canvas.width, y);
  ctx.fillRect(0, y + ch, canvas.width, canvas.height - y - ch);
  ctx.fillRect(0, y, x, ch);
  ctx.fillRect(x + cw, y, canvas.width - x - cw, ch);
  ctx.strokeStyle = '#2a7';
  ctx.lineWidth = 2;
  ctx.strokeRect(x + 1, y + 1, cw - 2, ch - 2);
  $('crop-note').textContent =
    `${picked?.name ?? 'picture'} (${w}×${h}) → ${size.width}×${size.height} (${mode}); the dimmed part is cut off.`;
  figure.hidden = false;
}

async function pick(file) {
  picked = file;
  pictureBitmap = null;
  if (file) {
    try {
      pictureBitmap = await createImageBitmap(file);
    } catch {
      $('crop-note').textContent = 'This browser cannot show that picture; the service will still check it.';
    }
  }
  await drawCrop();
}

function thumbnail() {
  if (!pictureBitmap) return undefined;
  const c = document.createElement('canvas');
  const s = 64 / Math.max(pictureBitmap.width, pictureBitmap.height);
  c.width = Math.max(1, Math.round(pictureBitmap.width * s));
  c.height = Math.max(1, Math.round(pictureBitmap.height * s));
  c.getContext('2d').drawImage(pictureBitmap, 0, 0, c.width, c.height);
  return c.toDataURL('image/jpeg', 0.7);
}

// ---- Submitting and following a job -----------------------------------------------------------

async function submit(file, options) {
  $('form-error').textContent = '';
  for (const spec of specs) clearError(spec.name);
  const form = new FormData();
  form.append('image', file);
  for (const [k, v] of Object.entries(options)) form.append(k, String(v));
  $('submit').disabled = true;
  try {
    const { id } = await api('/v1/jobs', { method: 'POST', body: form });
    pictures.set(id, file);
    remember({ id, prompt: options.prompt ?? '', options, thumb: thumbnail(), created: Date.now() });
    follow(id);
    await renderGallery();
  } catch (err) {
    showError(err);
  } finally {
    $('submit').disabled = false;
  }
}

function describe(job) {
  const s = (x) => Math.ceil(x);
  switch (job.state) {
    case 'queued':
      return `Waiting: position ${job.position} in the queue${job.start_eta_s != null ? `, starts in about ${s(job.start_eta_s)} s` : ''}${job.eta_s != null ? `, done in about ${s(job.eta_s)} s` : ''}.`;
    case 'running': {
      const p = job.progress;
      if (job.encoding) return 'Encoding the video…';
      if (p.chunks > 0) return `Decoding frames: chunk ${p.chunk} of ${p.chunks}.`;
      return `Denoising: step ${p.step} of ${p.steps}${job.eta_s != null ? `, about ${s(job.eta_s)} s left` : ''}.`;
    }
    case 'succeeded':
      return `Done. Seed ${job.seed}.`;
    case 'failed':
      return `Failed: ${job.error ?? 'unknown error'}`;
    default:
      return `Canceled${job.error ? `: ${job.error}` : ''}.`;
  }
}

function fraction(job) {
  if (job.state === 'succeeded') return 1;
  if (job.state !== 'running') return 0;
  const p = job.progress;
  const denoise = p.steps > 0 ? p.step / p.steps : 0;
  const decode = p.chunks > 0 ? p.chunk / p.chunks : 0;
  return Math.min(1, denoise * 0.85 + decode * 0.1 + (job.encoding ? 0.05 : 0));
}

function showPreview(id, step) {
  const img = $('live-preview');
  img.src = `/v1/jobs/${encodeURIComponent(id)}/preview?step=${step}`;
  img.dataset.step = String(step);
  $('live-note').textContent =
    `Live preview after step ${step}: a rough look at every frame, straight from the latents.`;
  $('live').hidden = false;
}

function follow(id) {
  source?.close();
  current = { id };
  $('current').hidden = false;
  for (const hide of ['video', 'gif', 'after', 'live']) $(hide).hidden = true;
  $('download-row').replaceChildren();
  $('progress').value = 0;
  $('cancel').hidden = false;
  $('cancel').disabled = false;
  $('status').textContent = 'Sent. Waiting for the queue…';
  source = new EventSource(`/v1/jobs/${encodeURIComponent(id)}/events`);
  source.addEventListener('preview', (event) => showPreview(id, JSON.parse(event.data).step));
  source.addEventListener('job', (event) => {
    const job = JSON.parse(event.data);
    current = job;
    $('status').textContent = describe(job);
    $('progress').value = fraction(job);
    $('progress').dataset.state = job.state;
    if (job.state === 'running') $('progress').dataset.seenProgress = 'true';
    if (job.preview_step && $('live-preview').dataset.step !== String(job.preview_step) && $('live').hidden)
      showPreview(id, job.preview_step);
    if (TERMINAL.has(job.state)) {
      source.close();
      source = null;
      $('cancel').hidden = true;
      if (job.state === 'succeeded') showResult(job);
      void renderGallery();
    }
  });
  source.onerror = () => {
    // The browser reconnects by itself; say so rather than stay silent.
    if (source && source.readyState === EventSource.CONNECTING) $('status').textContent += ' (reconnecting…)';
  };
}

async function cancelJob(id, button) {
  button.disabled = true;
  try {
    await api(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  } catch (err) {
    $('form-error').textContent = err.message;
  }
  await renderGallery();
}

function showResult(job) {
  const url = `/v1/jobs/${encodeURIComponent(job.id)}/result`;
  const video = $('video');
  if (job.format === 'mp4') {
    video.src = url;
    video.hidden = false;
    video.setAttribute('aria-label', `Animated result, seed ${job.seed}`);
    void video.play().catch(() => {});
  } else {
    $('gif').src = url;
    $('gif').alt = `Animated result, seed ${job.seed}`;
    $('gif').hidden = false;
  }
  const link = el('a', { id: 'download', href: url, download: `stillmotion-${job.seed}.${job.format}` });
  link.textContent = `Download the ${job.format.toUpperCase()}`;
  $('download-row').replaceChildren(link);
  $('job-options').textContent =
    `${job.options.prompt ? `“${job.options.prompt}” · ` : ''}seed ${job.seed} · ${optionText(job.options)}`;
  const picture = pictures.get(job.id);
  const step = model?.motion_step ?? 50;
  const motion = job.options.motion;
  $('reroll').disabled = !picture;
  $('more-motion').disabled = !picture || motion + step > 255;
  $('less-motion').disabled = !picture || motion - step < 1;
  $('after-note').textContent = picture
    ? `Reroll: the same options with a new seed. More / Less motion: motion ±${step}, the same seed.`
    : 'Pick the picture again to reroll this job (pictures are not kept after a reload).';
  $('after').hidden = false;
}

/** The job's options as the form would send them, with changes (chat button semantics). */
function again(changes) {
  const job = current;
  const picture = job && pictures.get(job.id);
  if (!picture) return;
  // Every option of the table the job has, as the form sends it; an empty prompt stays out.
  const options = {};
  for (const spec of specs) {
    const value = job.options[spec.name];
    if (value === undefined || value === null || value === '') continue;
    options[spec.name] = Array.isArray(value) ? value.join('-') : value;
  }
  Object.assign(options, { seed: job.seed }, changes(job));
  void submit(picture, options);
}

function newSeed(old) {
  const buf = new Uint32Array(1);
  do crypto.getRandomValues(buf);
  while (buf[0] === old);
  return buf[0];
}

// ---- Start ------------------------------------------------------------------------------------

async function start() {
  [model, { options: specs }] = await Promise.all([api('/v1/model'), api('/v1/options')]);
  $('fields').replaceChildren(...specs.map(fieldFor));
  $('size')?.addEventListener('change', () => void drawCrop());
  if (model.steerable === false && $('steer')) {
    $('steer').disabled = true;
    $('steer-note').textContent +=
      ' This model has no CLIP text encoder: export one with models/export/export_svd.py --text-encoder DIR.';
  }
  if (model.random_weights) {
    const note = $('model-note');
    note.textContent =
      `The bundled tiny model "${model.name}" is in use. It has random weights, so its videos look like noise. ` +
      'Point SVD_MODEL_DIR at a real model for real results.';
    note.hidden = false;
  }
}

$('image').addEventListener('change', () => void pick($('image').files[0] ?? null));
const drop = $('drop');
for (const type of ['dragenter', 'dragover']) {
  drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
}
for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  const file = e.dataTransfer?.files?.[0];
  if (!file) return;
  const dt = new DataTransfer();
  dt.items.add(file);
  $('image').files = dt.files;
  void pick(file);
});

$('job-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const file = $('image').files[0];
  if (!file) {
    $('form-error').textContent = 'Pick a picture first.';
    $('image').focus();
    return;
  }
  void submit(file, formOptions());
});
$('cancel').addEventListener('click', () => current && void cancelJob(current.id, $('cancel')));
$('reroll').addEventListener('click', () => again((job) => ({ seed: newSeed(job.seed) })));
$('more-motion').addEventListener('click', () =>
  again((job) => ({ motion: job.options.motion + (model?.motion_step ?? 50) })),
);
$('less-motion').addEventListener('click', () =>
  again((job) => ({ motion: job.options.motion - (model?.motion_step ?? 50) })),
);

start().catch((err) => {
  $('form-error').textContent = `Cannot reach the service: ${err.message}`;
});
void renderGallery();
