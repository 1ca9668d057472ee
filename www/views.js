// The dashboard's tables: statistics, agents, tasks and events. Each renders from plain data the
// source hands it (core views, never a second model), as one HTML string per table.

export const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const STATS = [
  ["total_tasks", "tasks"], ["tasks_running", "running"], ["tasks_queued", "queued"], ["tasks_retrying", "retrying"],
    ["tasks_completed", "completed"], ["tasks_failed", "failed"], ["tasks_cancelled", "cancelled"], ["tasks_skipped", "skipped"],
  ["total_workflows", "workflows"], ["workflows_running", "wf running"], ["agents_running", "agents running"],
  ["agent_errors", "agent errors"], ["journal_seq", "journal seq"], ["now", "clock (ms)"],
];

export function renderStats(el, stats) {
  el.innerHTML = STATS.map(([k, label]) => `<div class="stat" data-key="${k}"><b>${esc(stats[k])}</b><span>${label}</span></div>`).join("");
}

const AGENT_ACTIONS = {
  start: ["Created", "Stopped", "Ready", "Completed"],
  pause: ["Running"],
  resume: ["Paused"],
  stop: ["Running", "Paused", "Ready", "Error", "Initializing"],
};

export function renderAgents(el, agents, readOnly) {
  const rows = Object.entries(agents).map(([id, a]) => {
    const buttons = readOnly ? "" : Object.entries(AGENT_ACTIONS)
      .map(([act, from]) => `<button data-act="${act}" data-agent="${esc(id)}" ${from.includes(a.status) ? "" : "disabled"}>${act}</button>`).join("");
    return `<tr data-agent="${esc(id)}" data-status="${esc(a.status)}"><td>${esc(id)}</td><td class="st st-${esc(a.status)}">${esc(a.status)}</td>` +
      `<td>${a.running_tasks}/${a.concurrency ?? "∞"}</td><td>${a.queued_tasks}</td><td>${a.completed_tasks}</td><td>${a.failed_tasks}</td>` +
      `<td>${a.error_count}</td><td class="breaker breaker-${esc(a.breaker)}">${esc(a.breaker)}</td><td class="actions">${buttons}</td></tr>`;
  });
  el.innerHTML = `<table><thead><tr><th>agent</th><th>status</th><th>running</th><th>queued</th><th>done</th><th>failed</th><th>errors</th><th>breaker</th><th></th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

const UNFINISHED = new Set(["Pending", "Queued", "Running", "Retrying"]);
const ROW_PX = 21;      // the CSS fixes every task row at this height
const ROWS_AROUND = 8;  // rows drawn above and below the visible ones

/**
 * The task table, virtualized: only the rows in (and around) the scrolled-to window are in the
 * DOM, between two spacer rows, so a thousand tasks cost what fifty do.
 */
export function renderTasks(el, fetchRows, total, readOnly) {
  el.dataset.total = String(total);
  el.fetchRows = fetchRows;
  el.total = total;
  el.readOnly = readOnly;
  if (!el.dataset.virtual) {
    el.dataset.virtual = "true";
    el.addEventListener("scroll", () => drawRows(el), { passive: true });
  }
  drawRows(el);
}

function drawRows(el) {
  const { total, readOnly } = el;
  const visible = Math.ceil((el.clientHeight || 320) / ROW_PX);
  const first = Math.min(Math.max(0, Math.floor(el.scrollTop / ROW_PX) - ROWS_AROUND), total);
  const last = Math.min(total, first + visible + 2 * ROWS_AROUND);
    let fetched = [];
  try {
    fetched = last > first ? el.fetchRows(first, last - first) : [];
  } catch (e) {
    if (e?.code !== "closed") throw e; // a scroll while the run is being replaced
  }
  const rows = fetched.map((t) =>
    `<tr data-task="${esc(t.id)}" data-status="${esc(t.status)}"><td>${esc(t.id)}</td><td>${esc(t.agent)}</td><td class="st st-${esc(t.status)}">${esc(t.status)}</td>` +
    `<td>${t.attempts}</td><td>${esc(t.workflow ?? "")}</td><td>${t.startedAt ?? ""}</td><td>${t.completedAt ?? ""}</td>` +
    `<td class="err" title="${esc(t.error?.message ?? "")}">${esc(t.error?.message ?? "")}</td>` +
    `<td>${!readOnly && UNFINISHED.has(t.status) ? `<button data-act="cancel" data-task="${esc(t.id)}">cancel</button>` : ""}</td></tr>`);
  const spacer = (n) => (n > 0 ? `<tr class="spacer" style="height:${n * ROW_PX}px"><td colspan="9"></td></tr>` : "");
  el.innerHTML = `<table><thead><tr><th>task</th><th>agent</th><th>status</th><th>attempts</th><th>workflow</th><th>started</th><th>ended</th><th>error</th><th></th></tr></thead>` +
    `<tbody>${spacer(first)}${rows.join("")}${spacer(total - first - rows.length)}</tbody></table>`;
}

export function renderEvents(el, records, max = 40) {
  const rows = [];
  for (let i = records.length - 1; i >= 0 && rows.length < max; i--) {
    const r = records[i];
    const data = JSON.stringify(r.data ?? null);
    rows.push(`<li data-seq="${r.seq}"><span class="seq">${r.seq}</span> <span class="at">${r.at}</span> <b>${esc(r.type)}</b> <code>${esc(data.length > 160 ? `${data.slice(0, 160)}…` : data)}</code></li>`);
  }
  el.innerHTML = rows.join("");
}
