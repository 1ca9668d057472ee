// Remote mode: the same views over a Baton Worker's REST API (DESIGN.md §4) and its event
// stream, with a bearer token. `url` is a namespace's root (`https://host/v1/ns/default`): the
// routes (`/status`, `/agents`, ...) are relative to it. Reads are cached and refreshed when
// events arrive.

export class RemoteSource {
  mode = "remote";
  records = [];
  travelSeq = undefined;
  onChange = () => {};
  #base; #token; #data = { statistics: {}, agents: {}, tasks: [], workflows: [], flows: {} }; #stream; #timer;

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

  async refresh() {
    const [status, agents, tasks, workflows] = await Promise.all([
      this.#call("GET", "/status"), this.#call("GET", "/agents"),
      this.#call("GET", "/tasks?limit=1000"), this.#call("GET", "/workflows"),
    ]);
    const flows = {};
    const last = workflows.workflows?.at(-1);
    if (last) flows[last.id] = await this.#call("GET", `/workflows/${encodeURIComponent(last.id)}`);
    this.#data = { statistics: status.statistics ?? status, agents: agents.agents ?? agents, tasks: tasks.tasks ?? [], workflows: workflows.workflows ?? [], flows };
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
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.refresh().catch(() => {}), 150);
    };
  }

  close() { this.#stream?.close(); clearTimeout(this.#timer); }

  statistics() { return this.#data.statistics; }
  agentsStatus() { return this.#data.agents; }
  tasks(filter = {}) {
    const { offset = 0, limit = Infinity } = filter;
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
