// The dashboard: picks a source (local orchestrator or remote Worker), renders its views at most
// ten times a second, and wires the controls. Every view reads the core's own views; time travel
// swaps in a replay of the journal, so nothing here models the orchestrator a second time.
import { LocalSource } from "./local.js";
import { RemoteSource } from "./remote.js";
import { DagView } from "./dag.js";
import { TimelineView, attempts } from "./timeline.js";
import { renderStats, renderAgents, renderTasks, renderEvents, esc } from "./views.js";
import { EXAMPLES, REMOTE_EXAMPLES, researchWorkflow, layeredWorkflow } from "./demo.js";

const $ = (id) => document.getElementById(id);
const TASK_STATUSES = ["Pending", "Queued", "Running", "Retrying", "Completed", "Failed", "Cancelled", "TimedOut", "Skipped"];
const RENDER_EVERY_MS = 100;
const LARGE_RUN_TASKS = 500;
const CLOCK_SPAN_MS = 1e11; // about three years

const settings = JSON.parse(localStorage.getItem("baton.settings") ?? "{}");
const params = new URLSearchParams(location.search);
let source;
let pinnedWorkflow = "";
const dag = new DagView($("dag"));
const timeline = new TimelineView($("timeline"));

function say(text, ok = false) {
  $("message").textContent = text;
  $("message").className = ok ? "ok" : "";
}
const fail = (e) => say(`${e.code ?? e.name}: ${e.message}`);
async function guard(fn, needsRun = true) {
  try {
    if (needsRun && !source) throw Object.assign(new Error("no run shown: connect to a Worker, or pick local"), { code: "not_connected" });
    const out = await fn();
    scheduleRender();
    return out;
  } catch (e) {
    fail(e);
    scheduleRender();
    return undefined;
  }
}

// ---- rendering ----
let scheduled = false, lastRender = 0, renderEveryMs = RENDER_EVERY_MS;
const stats = { renders: 0 };
function scheduleRender() {
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => requestAnimationFrame(() => { scheduled = false; render(); }), Math.max(0, renderEveryMs - (performance.now() - lastRender)));
}

function options(select, values, keep) {
  const want = values.join("\n");
  if (select.dataset.values === want) return;
  const current = select.value;
    select.innerHTML = keep + values.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join("");
  select.dataset.values = want;
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

// A run replaced between scheduling and drawing is closed: draw the new one next time.
function render() {
  try {
    draw();
  } catch (e) {
    if (e?.code !== "closed") throw e;
    scheduleRender();
  }
}

function draw() {
  const t0 = performance.now();
    lastRender = t0;
  stats.renders++;
  if (!source || source.replacing) return;
  // Read layout before writing any DOM: a read after a write forces a synchronous layout.
  const timelineWidth = $("timeline").clientWidth;
  const readOnly = source.travelSeq !== undefined;
  document.body.classList.toggle("travelling", readOnly);
  // A past state is a picture: what would act on the live run waits until "live" (fork acts
  // from the picture).
  for (const id of ["submit", "run-demo", "run-1000", "snapshot", "restore", "new-run", "virtual"]) $(id).disabled = readOnly;
  const parts = {};
  const part = (name, fn) => {
    const t = performance.now();
    const out = fn();
    parts[name] = Math.round((performance.now() - t) * 10) / 10;
    return out;
  };
    const agents = part("agents", () => {
    const st = source.statistics();
    stats.tasks = st.total_tasks;
    renderStats($("stats"), st);
    const a = source.agentsStatus();
    renderAgents($("agents"), a, readOnly);
    return a;
  });
  const flows = source.workflows();
  options($("filter-agent"), Object.keys(agents), '<option value="">any agent</option>');
  options($("filter-workflow"), flows.map((w) => w.id), '<option value="">any workflow</option>');
  options($("workflow-pick"), flows.map((w) => w.id).reverse(), "");
  part("tasks", () => {
    const filter = {};
    for (const [k, el] of [["status", "filter-status"], ["agent", "filter-agent"], ["workflow", "filter-workflow"]]) if ($(el).value) filter[k] = $(el).value;
    // Unfiltered, only the rows on screen are read from the core; filtered, the matches are.
    if (Object.keys(filter).length === 0) {
      renderTasks($("tasks"), (offset, limit) => source.tasks({ offset, limit }), source.statistics().total_tasks, readOnly);
    } else {
      const matches = source.tasks(filter);
      renderTasks($("tasks"), (offset, limit) => matches.slice(offset, offset + limit), matches.length, readOnly);
    }
  });
  // The rest goes in a task of its own, so neither half holds the main thread long.
  setTimeout(() => {
    try {
      renderGraphs(flows, agents, readOnly, timelineWidth, parts, t0);
    } catch (e) {
      if (e?.code !== "closed") throw e;
      scheduleRender();
    }
  }, 0);
  const slider = $("slider");
  slider.min = String(source.firstSeq());
  slider.max = String(source.lastSeq());
  if (!readOnly) slider.value = slider.max;
  $("seq-label").textContent = readOnly ? `seq ${source.travelSeq} of ${source.lastSeq()}` : `live (seq ${source.lastSeq()})`;
  // A snapshot just taken (the list's new head) is the one "restore" restores.
  const snapshots = (source.saved ?? []).map((s) => s.id);
  const picker = $("snapshots");
  const newest = picker.options[0]?.value;
  options(picker, snapshots, "");
  if (snapshots.length > 0 && snapshots[0] !== newest) picker.value = snapshots[0];
}

function renderGraphs(flows, agents, readOnly, timelineWidth, parts, t0) {
  if (!source || source.replacing) return;
  const part = (name, fn) => {
    const t = performance.now();
    const out = fn();
    parts[name] = Math.round((performance.now() - t) * 10) / 10;
    return out;
  };
  part("dag", () => {
    // The newest workflow, unless one was picked.
    const picked = (pinnedWorkflow && flows.some((w) => w.id === pinnedWorkflow) ? pinnedWorkflow : flows.at(-1)?.id) ?? "";
    if ($("workflow-pick").value !== picked) $("workflow-pick").value = picked;
    const status = flows.find((w) => w.id === picked)?.status ?? "";
    $("workflow-status").textContent = status;
    $("workflow-status").dataset.status = status;
    dag.show(picked, picked ? source.workflowStatuses(picked) : undefined, () => source.workflow(picked));
  });
  const records = source.journal();
  part("timeline", () => {
    const agentOf = agentsOfTasks();
    // After the clock went from virtual to real, the earlier attempts sit decades before now:
    // only the current clock's are drawn (a virtual run spans far less than CLOCK_SPAN_MS).
    const now = source.now();
    const bars = attempts(records, (id) => agentOf.get(id)).filter((b) => b.start >= now - CLOCK_SPAN_MS);
    timeline.render(bars, Object.keys(agents), now, timelineWidth);
  });
  part("events", () => renderEvents($("events"), records));
  stats.parts = parts;
  stats.lastMs = Math.round(Object.values(parts).reduce((a, b) => a + b, 0));
  // A busy page renders less often, so rendering never takes more than a third of the time.
    // Past LARGE_RUN_TASKS, four renders a second: the page stays live and the main thread free.
  renderEveryMs = Math.max(RENDER_EVERY_MS, 3 * stats.lastMs, stats.tasks > LARGE_RUN_TASKS ? 250 : 0);
}

// Which agent runs each task, for the timeline. Tasks only get added, so each render reads just
// the new ones; a different view (time travel, fork, restore) starts over.
let agentCache = { owner: undefined, map: new Map() };
function agentsOfTasks() {
  const owner = source.view ?? source;
  if (agentCache.owner !== owner || source.statistics().total_tasks < agentCache.map.size) agentCache = { owner, map: new Map() };
  for (const t of source.tasks({ offset: agentCache.map.size })) agentCache.map.set(t.id, t.agent);
  return agentCache.map;
}

// ---- sources ----
async function useLocal() {
  if (source?.mode === "local") {
    // Back from the connection form without connecting: the local run was live all along.
    showMode("local");
    if (source.loadError) fail(source.loadError);
    else say("");
    return;
  }
  await source?.close?.();
  // `?speed=0.1` makes the demo agents ten times faster (tests, impatient people).
  const speed = Number(params.get("speed") ?? 1);
  source = await LocalSource.open({ seed: settings.seed ?? 42, clock: settings.clock ?? "real", profile: settings.profile ?? "demo", speed });
  source.onChange = scheduleRender;
  showMode("local");
  if (source.loadError) fail(source.loadError);
  else say("");
  $("seed").value = String(source.settings.seed);
  $("fork-profile").value = source.profile;
  $("virtual").checked = source.settings.clock === "virtual";
  scheduleRender();
}

async function useRemote(url, token) {
  $("remote-url").value = url;
  $("remote-token").value = token;
  if (url.trim() === "") throw Object.assign(new Error("give the Worker's URL (http://127.0.0.1:8787, say)"), { code: "invalid_argument" });
  const next = await RemoteSource.open({ url, token });
  await source?.close?.();
  source = next;
  source.onChange = scheduleRender;
  source.onError = fail;
  if (pinnedWorkflow) source.pin(pinnedWorkflow);
  showMode("remote");
  say(`connected to ${url}`, true);
  scheduleRender();
}

// Time travel, forks, runs of the demo agents and in-page snapshots are the local package's:
// the Worker has its own agents, and no restore route. In remote mode they are hidden.
function showMode(mode) {
  const remote = mode === "remote";
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.checked = radio.value === mode;
  $("remote-settings").hidden = !remote;
  $("local-settings").hidden = remote;
  for (const id of ["slider", "live", "fork", "fork-profile", "run-demo", "run-1000", "restore", "snapshots"]) $(id).hidden = remote;
  // The editor's examples name the agents of the mode: the demo agents here, a Worker's there.
  const examples = remote ? REMOTE_EXAMPLES : EXAMPLES;
  if ($("example").dataset.mode !== mode) {
    $("example").dataset.mode = mode;
    $("example").innerHTML = Object.keys(examples).map((k) => `<option>${esc(k)}</option>`).join("");
    $("editor").value = JSON.stringify(examples[$("example").value], null, 2);
  }
}

function saveSettings() {
  localStorage.setItem("baton.settings", JSON.stringify(settings));
}

// ---- controls ----
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-act]");
  if (!b || !source) return;
  if (b.dataset.agent) guard(() => source.agent(b.dataset.act, b.dataset.agent));
  else if (b.dataset.act === "cancel") guard(() => source.cancel(b.dataset.task));
});

$("run-demo").onclick = () => guard(() => {
  // Numbered from the run's own workflows, so the same seed and clicks give the same journal.
  const id = source.submit(researchWorkflow(source.workflows().length + 1));
  say(`submitted ${id}`, true);
  return id;
});
$("run-1000").onclick = () => guard(() => source.submit(layeredWorkflow(1000)));
$("snapshot").onclick = () => guard(async () => say(`took ${await source.snapshot()}`, true));
$("restore").onclick = () => guard(async () => {
  const id = $("snapshots").value;
  if (!id) throw Object.assign(new Error("take a snapshot first"), { code: "no_snapshot" });
  await source.restore(id);
  say(`restored ${id}`, true);
});
$("new-run").onclick = () => guard(async () => {
  // A seed is a whole number; an empty field is not 0.
  const text = $("seed").value.trim();
  const seed = Number(text);
  if (text === "" || !Number.isSafeInteger(seed) || seed < 0) {
    throw Object.assign(new Error(`a seed is a whole number from 0 to 2^53 - 1, not '${text}'`), { code: "invalid_argument" });
  }
  const clock = $("virtual").checked ? "virtual" : "real";
  await source.newRun({ seed, clock });
  Object.assign(settings, { seed, clock });
  saveSettings();
  say(`new run, seed ${seed}, ${clock} clock`, true);
});
// Enter in a settings field does what its button does, not a form's reload of the page.
$("local-settings").onsubmit = (e) => { e.preventDefault(); $("new-run").click(); };
$("remote-settings").onsubmit = (e) => { e.preventDefault(); $("connect").click(); };
$("virtual").onchange = () => guard(async () => {
  const clock = $("virtual").checked ? "virtual" : "real";
  await source.setClock(clock);
  settings.clock = clock;
  saveSettings();
  say(`${clock} clock`, true);
});
// The right end is the live run, however far the journal has grown since the slider was drawn.
$("slider").oninput = () => guard(() => {
  const slider = $("slider");
  return slider.value === slider.max ? source.travel(Infinity) : source.travel(Number(slider.value));
});
$("live").onclick = () => guard(() => source.back());
$("fork").onclick = () => guard(async () => {
  const seq = source.travelSeq ?? source.lastSeq();
  await source.fork(seq, $("fork-profile").value);
  settings.profile = $("fork-profile").value; // a reload keeps the fork's agents
  saveSettings();
  say(`forked at seq ${seq} with ${$("fork-profile").value} agents`, true);
});
for (const id of ["filter-status", "filter-agent", "filter-workflow"]) $(id).onchange = scheduleRender;
$("workflow-pick").onchange = () => {
  pinnedWorkflow = $("workflow-pick").value;
  if (source?.mode === "remote") source.pin(pinnedWorkflow);
  scheduleRender();
};

options($("filter-status"), TASK_STATUSES, '<option value="">any status</option>');
$("example").innerHTML = Object.keys(EXAMPLES).map((k) => `<option>${esc(k)}</option>`).join("");
$("example").dataset.mode = "local";
$("example").onchange = () => {
  const examples = $("example").dataset.mode === "remote" ? REMOTE_EXAMPLES : EXAMPLES;
  $("editor").value = JSON.stringify(examples[$("example").value], null, 2);
};
$("example").onchange();
$("submit").onclick = () => guard(async () => {
  let spec;
  try {
    spec = JSON.parse($("editor").value);
  } catch (e) {
    throw Object.assign(new Error(`the JSON does not parse: ${e.message}`), { code: "invalid_json" });
  }
  say(`submitted ${await source.submit(spec)}`, true);
});

for (const radio of document.querySelectorAll("input[name=mode]")) {
  radio.onchange = () => {
    const remote = radio.value === "remote" && radio.checked;
    // The connection form until connected; the local run at once.
    $("remote-settings").hidden = !remote;
    $("local-settings").hidden = remote;
    if (!remote && radio.checked) guard(useLocal, false);
  };
}
$("connect").onclick = () => guard(() => useRemote($("remote-url").value, $("remote-token").value), false);

// For tests and the curious: the page's state, from the console.
// A remote page that cannot connect shows the connection form, filled in, to try again.
const ready = params.get("mode") === "remote"
  ? useRemote(params.get("url") ?? "", params.get("token") ?? "").catch((e) => { showMode("remote"); throw e; })
  : useLocal();
window.dashboard = { get source() { return source; }, ready: ready.catch(fail), stats, render };
