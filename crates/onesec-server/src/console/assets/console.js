// The onesec console's one script: the live queue, the buttons that work incidents and tasks,
// local times and countdowns. Plain ES module, no dependencies; every change goes to the REST
// API with the session cookie and the X-Onesec-Console header (docs/console.md).

const PAGE_SIZE = 200;
const SEVERITY = { critical: 5, high: 4, medium: 3, low: 2 };

/** Calls the API as the signed-in user; resolves with the JSON answer or throws its error. */
export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-onesec-console': '1' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let answer = null;
  try { answer = text ? JSON.parse(text) : null; } catch { answer = text; }
  if (!response.ok) {
    const reason = answer && answer.error ? answer.error : `${response.status}`;
    throw new Error(reason);
  }
  return answer;
}

function announce(text) {
  const region = document.getElementById('announcer');
  if (region) region.textContent = text;
}

function localTime(ms) {
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

function countdown(ms) {
  const left = Number(ms) - Date.now();
  const minutes = Math.round(Math.abs(left) / 60000);
  const span = minutes >= 120 ? `${Math.round(minutes / 60)} h` : `${minutes} min`;
  return left >= 0 ? `in ${span}` : `overdue by ${span}`;
}

function refreshTimes(root = document) {
  for (const t of root.querySelectorAll('time[data-ms]')) t.textContent = localTime(t.dataset.ms);
  for (const t of root.querySelectorAll('time[data-due]')) {
    t.textContent = `${localTime(t.dataset.due)} (${countdown(t.dataset.due)})`;
    t.classList.toggle('overdue', Number(t.dataset.due) < Date.now());
  }
}

function beep() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    tone.frequency.value = 880;
    tone.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.25);
  } catch { /* no audio device: the banner still shows */ }
}

function rank(a, b) {
  return (a.priority - b.priority)
    || ((SEVERITY[b.severity] || 1) - (SEVERITY[a.severity] || 1))
    || (b.last_ms - a.last_ms);
}

function cell(text, className) {
  const td = document.createElement('td');
  if (className) {
    const span = document.createElement('span');
    span.className = className;
    span.textContent = text;
    td.append(span);
  } else {
    td.textContent = text;
  }
  return td;
}

function button(label, action, id) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.action = action;
  b.dataset.id = id;
  b.setAttribute('aria-label', `${label} ${id}`);
  return b;
}

/** The live queue: a snapshot, then changes, over server-sent events. */
class Queue {
  constructor(table) {
    this.table = table;
    this.body = table.querySelector('tbody');
    this.mayWork = table.dataset.mayWork === 'true';
    this.me = table.dataset.me;
    this.rows = new Map();
    this.shown = PAGE_SIZE;
    this.pending = false;
    this.metrics = { snapshotRows: 0, firstLiveRenderMs: null, changes: 0, upserts: 0, renders: 0 };
    window.consoleMetrics = this.metrics;
    this.filters = {
      team: document.getElementById('filter-team'),
      site: document.getElementById('filter-site'),
      domain: document.getElementById('filter-domain'),
      q: document.getElementById('filter-q'),
    };
    for (const f of Object.values(this.filters)) f.addEventListener('input', () => this.schedule());
    this.more = document.getElementById('queue-more');
    this.more.addEventListener('click', () => { this.shown += PAGE_SIZE; this.schedule(); });
    new IntersectionObserver((seen) => {
      if (seen.some((e) => e.isIntersecting) && !this.more.hidden) {
        this.shown += PAGE_SIZE;
        this.schedule();
      }
    }).observe(this.more);
    this.body.addEventListener('click', (e) => this.act(e));
    this.connect();
  }

  connect() {
    const status = document.getElementById('live-status');
    const source = new EventSource('/console/live');
    source.addEventListener('snapshot', (e) => {
      const rows = JSON.parse(e.data);
      const first = this.rows.size === 0 && this.metrics.snapshotRows === 0;
      const known = new Set(this.rows.keys());
      this.rows = new Map(rows.map((r) => [r.id, r]));
      this.metrics.snapshotRows = rows.length;
      if (!first) this.notifyNew(rows.filter((r) => !known.has(r.id)));
      status.textContent = `live · ${rows.length} open`;
      this.schedule();
    });
    source.addEventListener('change', (e) => {
      const change = JSON.parse(e.data);
      const fresh = change.upsert.filter((r) => !this.rows.has(r.id));
      // An open incident that became urgent (a physical alarm joined by a cyber alert turns
      // into a P1 hybrid incident) must reach the operator as loudly as a new one.
      const escalated = change.upsert.filter((r) => {
        const old = this.rows.get(r.id);
        return old && r.priority <= 2 && (r.priority < old.priority || r.domain !== old.domain);
      });
      for (const r of change.upsert) this.rows.set(r.id, r);
      for (const id of change.remove) this.rows.delete(id);
      this.metrics.changes += 1;
      this.metrics.upserts += change.upsert.length;
      this.notifyNew(fresh);
      this.notifyEscalated(escalated);
      status.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
      this.schedule();
    });
    source.onerror = () => { status.textContent = 'live feed interrupted, reconnecting…'; };
  }

  notifyNew(rows) {
    if (rows.length === 0) return;
    const urgent = rows.filter((r) => r.priority <= 2);
    const first = (urgent[0] || rows[0]);
    announce(`${rows.length} new: P${first.priority} ${first.domain} ${first.title}`);
    if (urgent.length === 0) return;
    this.alarm(`New P${first.priority} ${first.domain} incident: ${first.title}`);
  }

  notifyEscalated(rows) {
    if (rows.length === 0) return;
    const first = rows.slice().sort((a, b) => a.priority - b.priority)[0];
    announce(`${rows.length} escalated: P${first.priority} ${first.domain} ${first.title}`);
    this.alarm(`Escalated to P${first.priority} ${first.domain} incident: ${first.title}`);
  }

  alarm(text) {
    const banner = document.getElementById('alert-banner');
    banner.textContent = text;
    banner.hidden = false;
    banner.classList.remove('flash');
    void banner.offsetWidth;
    banner.classList.add('flash');
    if (document.getElementById('sound').checked) beep();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
  }

  visible() {
    const team = this.filters.team.value;
    const site = this.filters.site.value;
    const domain = this.filters.domain.value;
    const q = this.filters.q.value.trim().toLowerCase();
    const out = [];
    for (const r of this.rows.values()) {
      if (team && r.team !== team) continue;
      if (site && !r.sites.includes(site)) continue;
      if (domain && r.domain !== domain) continue;
      if (q && !`${r.title} ${r.id} ${r.persons.join(' ')} ${r.zones.join(' ')}`.toLowerCase().includes(q)) continue;
      out.push(r);
    }
    return out.sort(rank);
  }

  row(r) {
    const tr = document.createElement('tr');
    tr.className = `row domain-${r.domain} p${r.priority}`;
    tr.dataset.id = r.id;
    tr.append(cell(`P${r.priority}`, 'prio'), cell(r.domain, 'domain'));
    const title = document.createElement('td');
    const link = document.createElement('a');
    link.href = `/console/incidents/${encodeURIComponent(r.id)}`;
    link.textContent = r.title;
    const sev = document.createElement('span');
    sev.className = 'sev';
    sev.textContent = r.severity;
    title.append(link, ' ', sev);
    const time = document.createElement('td');
    time.innerHTML = '<time></time>';
    time.firstChild.textContent = localTime(r.last_ms);
    tr.append(title, cell(r.state), cell(r.team), cell(r.assignee || ''), cell(r.sites.join(', ')), time);
    const actions = document.createElement('td');
    if (this.mayWork) {
      if (r.state === 'new') actions.append(button('Acknowledge', 'ack', r.id));
      if (r.assignee !== this.me) actions.append(button('Assign to me', 'assign-me', r.id));
      if (r.priority > 1) actions.append(button('Escalate', 'escalate', r.id));
    }
    tr.append(actions);
    return tr;
  }

  render() {
    const list = this.visible();
    // Rows are redrawn, not patched: keep keyboard focus on the same control of the same row.
    const focused = document.activeElement;
    const keep = this.body.contains(focused)
      ? { id: focused.closest('tr')?.dataset.id, action: focused.dataset.action, link: focused.tagName === 'A' }
      : null;
    const fragment = document.createDocumentFragment();
    for (const r of list.slice(0, this.shown)) fragment.append(this.row(r));
    this.body.replaceChildren(fragment);
    if (keep && keep.id) {
      const row = this.body.querySelector(`tr[data-id="${CSS.escape(keep.id)}"]`);
      const target = keep.link ? row?.querySelector('a') : row?.querySelector(`button[data-action="${keep.action}"]`);
      (target || row?.querySelector('a'))?.focus();
    }
    document.getElementById('queue-count').textContent = String(list.length);
    this.more.hidden = list.length <= this.shown;
    this.table.dataset.rendered = String(Math.min(list.length, this.shown));
    this.metrics.renders += 1;
    if (this.metrics.firstLiveRenderMs === null && this.metrics.snapshotRows > 0) {
      // Milliseconds since the navigation started (performance.now()'s origin).
      this.metrics.firstLiveRenderMs = performance.now();
    }
  }

  async act(event) {
    const b = event.target.closest('button[data-action]');
    if (!b) return;
    const r = this.rows.get(b.dataset.id);
    if (!r) return;
    const path = `/api/v1/incidents/${encodeURIComponent(r.id)}`;
    b.disabled = true;
    try {
      if (b.dataset.action === 'ack') {
        await api('POST', `${path}/ack`, { comment: 'acknowledged from the console queue' });
        r.state = 'acknowledged';
      } else if (b.dataset.action === 'assign-me') {
        await api('POST', `${path}/assign`, { assignee: this.me, comment: '' });
        r.assignee = this.me;
      } else if (b.dataset.action === 'escalate') {
        const priority = Math.max(1, r.priority - 1);
        await api('POST', `${path}/classify`, { priority, comment: 'escalated from the console queue' });
        r.priority = priority;
      }
      announce(`${b.textContent}: done for ${r.title}`);
      this.schedule();
    } catch (error) {
      announce(`${b.textContent} failed: ${error.message}`);
      b.disabled = false;
    }
  }
}

/** NIS2 / GDPR deadlines of the incident (GET .../regulatory; shown only to roles that may
 * read compliance data: for others the section stays hidden). */
async function regulatoryClocks(path) {
  const section = document.getElementById('regulatory');
  if (!section) return;
  let answer;
  try { answer = await api('GET', `${path}/regulatory`); } catch { return; }
  const mark = document.getElementById('regulatory-mark');
  const list = document.getElementById('regulatory-deadlines');
  section.hidden = false;
  if (!answer || !answer.mark) {
    mark.textContent = 'Not marked as a significant incident (NIS2) or a personal-data breach (GDPR): no regulatory clock runs.';
    return;
  }
  const m = answer.mark;
  const regimes = [m.nis2_significant ? 'NIS2 significant incident' : '', m.gdpr_breach ? 'GDPR personal-data breach' : ''].filter(Boolean);
  mark.textContent = `${regimes.join(' and ')}; clocks run from awareness at ${localTime(m.aware_ms)}.`;
  list.replaceChildren(...(answer.deadlines || []).map((d) => {
    const item = document.createElement('li');
    item.className = `deadline deadline-${d.status}`;
    const name = document.createElement('strong');
    name.textContent = String(d.stage).replaceAll('_', ' ');
    item.append(name, ` — ${d.status}`);
    if (d.status === 'open' || d.status === 'overdue') {
      const due = document.createElement('time');
      due.dataset.due = d.due_ms;
      item.append(' · due ', due);
    } else if (d.submitted_ms) {
      item.append(` · submitted ${localTime(d.submitted_ms)}`);
    }
    return item;
  }));
  refreshTimes(section);
}

/** The incident page's buttons and comment form. */
function incidentPage(article) {
  const id = article.dataset.id;
  const me = article.dataset.me;
  const path = `/api/v1/incidents/${encodeURIComponent(id)}`;
  regulatoryClocks(path);
  const result = document.getElementById('action-result');
  const run = async (label, call) => {
    result.textContent = `${label}…`;
    try {
      await call();
      result.textContent = `${label}: done`;
      window.location.reload();
    } catch (error) {
      result.textContent = `${label} failed: ${error.message}`;
    }
  };
  article.addEventListener('click', (event) => {
    const b = event.target.closest('button[data-action]');
    if (!b) return;
    const label = b.textContent.trim();
    switch (b.dataset.action) {
      case 'ack': return run(label, () => api('POST', `${path}/ack`, { comment: '' }));
      case 'state': return run(label, () => api('POST', `${path}/state`, { state: b.dataset.state, comment: '' }));
      case 'assign-me': return run(label, () => api('POST', `${path}/assign`, { assignee: me, comment: '' }));
      case 'assign-team': {
        const team = document.getElementById('assign-team').value;
        return run(label, () => api('POST', `${path}/assign`, { team, comment: '' }));
      }
      case 'escalate': {
        const current = Number(document.getElementById('case-priority')?.dataset.priority || 5);
        if (current <= 1) { result.textContent = 'Already at P1, the most urgent priority'; return undefined; }
        return run(label, () => api('POST', `${path}/classify`, { priority: current - 1, comment: 'escalated from the console' }));
      }
      case 'approve':
      case 'reject': {
        const task = encodeURIComponent(b.dataset.task);
        return run(label, () => api('POST', `/api/v1/tasks/${task}/${b.dataset.action}`, { comment: `${b.dataset.action === 'approve' ? 'done' : 'rejected'} from the console` }));
      }
      default: return undefined;
    }
  });
  const form = document.getElementById('comment-form');
  if (form) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const comment = document.getElementById('comment-text').value.trim();
      if (comment) run('Comment', () => api('POST', `${path}/comment`, { comment }));
    });
  }
}

function signOut() {
  const b = document.getElementById('sign-out');
  if (!b) return;
  b.addEventListener('click', async () => {
    try { await api('POST', '/api/v1/auth/logout'); } catch { /* already signed out */ }
    window.location.assign('/console/login');
  });
}

signOut();
refreshTimes();
setInterval(refreshTimes, 30000);
const queue = document.getElementById('queue');
if (queue) new Queue(queue);
const incident = document.getElementById('incident');
if (incident) incidentPage(incident);
