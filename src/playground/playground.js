// The playground page: submit a picture, follow the job over SSE, play the result.
// Plain browser JavaScript, no framework; everything goes through the public job API.

const $ = (id) => document.getElementById(id);
const STORE = 'stillmotion.jobs';
const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

// Who this browser is: the sidecar's session cookie (HttpOnly), set when it served this page.

function recentIds() {
  try {
    const list = JSON.parse(localStorage.getItem(STORE) ?? '[]');
    return Array.isArray(list) ? list.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function remember(id) {
  const ids = [id, ...recentIds().filter((x) => x !== id)].slice(0, 10);
  localStorage.setItem(STORE, JSON.stringify(ids));
}

async function api(path, init) {
  const res = await fetch(path, init);
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) {
    const err = new Error(body?.error ?? `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

function describe(job) {
  switch (job.state) {
    case 'queued':
      return `Waiting: position ${job.position} in the queue${job.start_eta_s != null ? `, starts in about ${Math.ceil(job.start_eta_s)} s` : ''}${job.eta_s != null ? `, done in about ${Math.ceil(job.eta_s)} s` : ''}.`;
    case 'running': {
      const p = job.progress;
      if (job.encoding) return 'Encoding the video…';
      if (p.chunks > 0) return `Decoding frames: chunk ${p.chunk} of ${p.chunks}.`;
      return `Denoising: step ${p.step} of ${p.steps}${job.eta_s != null ? `, about ${Math.ceil(job.eta_s)} s left` : ''}.`;
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

let source = null;

function follow(id) {
  source?.close();
  $('current').hidden = false;
  $('video').hidden = true;
  $('download-row').replaceChildren();
  $('progress').value = 0;
  $('status').textContent = 'Sent. Waiting for the queue…';
  source = new EventSource(`/v1/jobs/${encodeURIComponent(id)}/events`);
  source.addEventListener('job', (event) => {
    const job = JSON.parse(event.data);
    $('status').textContent = describe(job);
    $('progress').value = fraction(job);
    $('progress').dataset.state = job.state;
    if (job.state === 'running') $('progress').dataset.seenProgress = 'true';
    if (TERMINAL.has(job.state)) {
      source.close();
      source = null;
      if (job.state === 'succeeded') showResult(job);
      void renderRecent();
    }
  });
  source.onerror = () => {
    // The browser reconnects by itself; say so rather than stay silent.
    if (source && source.readyState === EventSource.CONNECTING) $('status').textContent += ' (reconnecting…)';
  };
}

function showResult(job) {
  const url = `/v1/jobs/${encodeURIComponent(job.id)}/result`;
  const video = $('video');
  video.src = url;
  video.hidden = job.format !== 'mp4';
  video.setAttribute('aria-label', `Animated result, seed ${job.seed}`);
  if (job.format === 'mp4') void video.play().catch(() => {});
  const link = document.createElement('a');
  link.id = 'download';
  link.href = url;
  link.download = `stillmotion-${job.seed}.${job.format}`;
  link.textContent = `Download the ${job.format.toUpperCase()}`;
  $('download-row').replaceChildren(link);
}

async function renderRecent() {
  const list = $('recent');
  const items = await Promise.all(
    recentIds().map((id) => api(`/v1/jobs/${encodeURIComponent(id)}`).catch(() => null)),
  );
  list.replaceChildren();
  for (const job of items) {
    if (!job) continue;
    const li = document.createElement('li');
    li.dataset.id = job.id;
    const open = document.createElement('a');
    open.href = '#';
    open.textContent = `${job.options.prompt || 'untitled'} (seed ${job.seed})`;
    open.addEventListener('click', (e) => {
      e.preventDefault();
      follow(job.id);
    });
    const state = document.createElement('span');
    state.textContent = ` ${job.state}`;
    li.append(open, state);
    if (!TERMINAL.has(job.state)) {
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.textContent = 'Cancel';
      cancel.setAttribute('aria-label', `Cancel job ${job.id}`);
      cancel.addEventListener('click', async () => {
        cancel.disabled = true;
        try {
          await api(`/v1/jobs/${encodeURIComponent(job.id)}`, { method: 'DELETE' });
        } catch (err) {
          $('form-error').textContent = err.message;
        }
        await renderRecent();
      });
      li.append(cancel);
    }
    list.append(li);
  }
  if (!list.children.length) list.innerHTML = '<li>None yet.</li>';
}

function setImage(file) {
  const input = $('image');
  const dt = new DataTransfer();
  dt.items.add(file);
  input.files = dt.files;
  preview(file);
}

function preview(file) {
  const img = $('preview');
  if (!file) {
    img.hidden = true;
    return;
  }
  img.src = URL.createObjectURL(file);
  img.alt = `Preview of ${file.name}`;
  img.hidden = false;
}

async function loadModel() {
  const m = await api('/v1/model');
  $('frames').max = String(m.frames);
  $('frames').placeholder = String(m.frames);
  $('fps').placeholder = String(m.fps);
  $('motion').placeholder = String(m.motion);
  $('steps').placeholder = '25';
  if (m.random_weights) {
    const note = $('model-note');
    note.textContent =
      `The bundled tiny model "${m.name}" is in use. It has random weights, so its videos look like noise. ` +
      'Point SVD_MODEL_DIR at a real model for real results.';
    note.hidden = false;
  }
}

$('image').addEventListener('change', () => preview($('image').files[0]));
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
  if (file) setImage(file);
});

$('job-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('form-error').textContent = '';
  const form = new FormData();
  const file = $('image').files[0];
  if (!file) {
    $('form-error').textContent = 'Pick a picture first.';
    return;
  }
  form.append('image', file);
  for (const name of ['prompt', 'motion', 'fps', 'frames', 'steps', 'seed', 'loop', 'smooth']) {
    const value = $(name).value.trim();
    if (value !== '') form.append(name, value);
  }
  $('submit').disabled = true;
  try {
    const { id } = await api('/v1/jobs', { method: 'POST', body: form });
    remember(id);
    follow(id);
    await renderRecent();
  } catch (err) {
    $('form-error').textContent = err.message;
  } finally {
    $('submit').disabled = false;
  }
});

loadModel().catch((err) => {
  $('form-error').textContent = `Cannot reach the service: ${err.message}`;
});
void renderRecent();
