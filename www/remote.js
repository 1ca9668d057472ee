// Remote mode: the same views over a Baton Worker's REST API (DESIGN.md §4) and its event
// stream, with a bearer token. `url` is a namespace's root (`https://host/v1/ns/default`): the
// routes (`/status`, `/agents`, ...) are relative to it. Reads are cached and refreshed when
// events arrive.

const TASKS_SHOWN = 1000;

export class RemoteSource {
  mode = "remote";
  records = [];
  travelSeq = undefined;
  onChange = () => {};
  /** A refresh or the stream failed: the page says so (the data shown is as of the last refresh). */
  onError = (e) => console.warn(e);
  #base; #token; #data = { statistics: {}, agents: {}, tasks: [], tasksFrom: 0, workflows: [], flows: {} }; #stream; #timer; #pinned;

  static async open({ url, token }) {
    const s = new RemoteSource();
    s.#base = url.replace(/\/+$/, "");
    s.#token = token;
    await s.refresh();
    s.#listen();
    return s;
  }

  async #call(method, path, body) {
    const res = await fetch(`${this.#base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = new Error(json.error?.message ?? `${method} ${path}: HTTP ${res.status}`);
      e.code = json.error?.code ?? `http_${res.status}`;
      throw e;
    }
    return json;
  }

  /** The workflow whose graph is shown (the newest when none is picked). */
  pin(id) { this.#pinned = id || undefined; this.refresh().catch((e) => this.onError(e)); }

  async refresh() {
    const [status, agents, workflows] = await Promise.all([
      this.#call("GET", "/status"), this.#call("GET", "/agents"), this.#call("GET", "/workflows"),
    ]);
    const statistics = status.statistics ?? status;
    // The newest TASKS_SHOWN tasks (a page of the Worker's, oldest first): new work shows.
    const tasksFrom = Math.max(0, (statistics.total_tasks ?? 0) - TASKS_SHOWN);
    const list = workflows.workflows ?? [];
    const shown = list.find((w) => w.id === this.#pinned) ?? list.at(-1);
    const [tasks, flow] = await Promise.all([
      this.#call("GET", `/tasks?offset=${tasksFrom}&limit=${TASKS_SHOWN}`),
      shown && this.#call("GET", `/workflows/${encodeURIComponent(shown.id)}`),
    ]);
    const flows = shown ? { [shown.id]: flow } : {};
    this.#data = { statistics, agents: Object.fromEntries((agents.agents ?? []).map((a) => [a.id, a])), tasks: tasks.tasks ?? [], tasksFrom, workflows: list, flows };
    this.onChange();
  }

  #listen() {
    // EventSource cannot send headers: the token goes in the query for the stream only.
    const after = this.records.at(-1)?.seq ?? 0;
    this.#stream = new EventSource(`${this.#base}/events?after=${after}&token=${encodeURIComponent(this.#token)}`);
    this.#stream.onmessage = (m) => {
      const record = JSON.parse(m.data);
      // A reconnecting stream may send again what arrived before the drop.
      if (record.seq <= (this.records.at(-1)?.seq ?? 0)) return;
      this.records.push(record);
      // At most one refresh per 150 ms, and one within 150 ms of a burst's first record: a run
      // that never pauses still updates the page (a timer restarted by each record never fired).
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.refresh().catch((e) => this.onError(e));
      }, 150);
    };
    // EventSource reconnects by itself; say that it dropped meanwhile.
    this.#stream.onerror = () => this.onError(Object.assign(new Error("the event stream dropped; reconnecting"), { code: "stream" }));
  }

  close() { this.#stream?.close(); clearTimeout(this.#timer); }

  statistics() { return this.#data.statistics; }
  agentsStatus() { return this.#data.agents; }
  /** Offsets count from the namespace's first task; only the newest TASKS_SHOWN are held. */
  tasks(filter = {}) {
    const { offset = 0, limit = Infinity } = filter;
    const filtered = filter.status || filter.agent || filter.workflow;
    if (!filtered) {
      // Rows before the newest TASKS_SHOWN stand in for tasks not fetched, so rows keep their place.
      const from = this.#data.tasksFrom;
      // Without a limit (the timeline's agents), just the tasks held.
      if (!Number.isFinite(limit)) return this.#data.tasks.slice(Math.max(0, offset - from));
      const end = Math.min(offset + limit, from + this.#data.tasks.length);
      const older = Array.from({ length: Math.max(0, Math.min(end, from) - offset) }, () => ({ id: "(older: not fetched)", agent: "", status: "", attempts: "" }));
      return older.concat(this.#data.tasks.slice(Math.max(0, offset - from), Math.max(0, end - from)));
    }
    return this.#data.tasks
      .filter((t) => (!filter.status || t.status === filter.status) && (!filter.agent || t.agent === filter.agent) && (!filter.workflow || t.workflow === filter.workflow))
      .slice(offset, offset + limit);
  }
  workflows() { return this.#data.workflows; }
  workflow(id) { return this.#data.flows[id]; }
  workflowStatuses(id) {
    const wf = this.#data.flows[id];
    return wf && Object.fromEntries(Object.entries(wf.tasks).map(([local, t]) => [local, t.status]));
  }
  now() { return Date.now(); }
  journal() { return this.records; }
  firstSeq() { return this.records[0]?.seq ?? 1; }
  lastSeq() { return this.records.at(-1)?.seq ?? 0; }

  async agent(act, id) { await this.#call("POST", `/agents/${encodeURIComponent(id)}/${act}`); await this.refresh(); }
  async submit(spec) {
    const out = Array.isArray(spec.tasks) ? await this.#call("POST", "/workflows", spec) : await this.#call("POST", "/tasks", spec);
    await this.refresh();
    return out.id;
  }
  async cancel(id) { await this.#call("POST", `/tasks/${encodeURIComponent(id)}/cancel`); await this.refresh(); }
  async snapshot() { const s = await this.#call("POST", "/snapshots"); return s.id; }
}
