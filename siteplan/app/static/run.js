// siteplan app, Run page: follow the chosen run while it is queued or running.
// Every value from the server goes into the page with textContent (siteplan.el), never as HTML.
"use strict";
(function () {
  const detail = document.getElementById("run-detail");
  if (!detail) return;
  const id = detail.dataset.id;
  const lang = detail.dataset.lang || "zh";
  const $ = (name) => document.getElementById(name);
  let timer = null;

  function text(name, value) {
    const e = $(name);
    if (e) e.textContent = value || "";
  }

  function show(view) {
    const state = $("run-state");
    state.textContent = view.state_text;
    state.dataset.state = view.state;
    text("run-elapsed", view.elapsed);
    const status = $("run-status");
    status.textContent = view.status_text || "";
    status.className = view.status_class || "";
    text("run-gap", view.gap_text);
    text("run-units", view.units_text);
    const message = $("run-message");
    message.textContent = view.error || "";
    message.hidden = !view.error;
    const findings = $("run-findings");
    findings.replaceChildren(...(view.findings || []).map((f) => siteplan.el("li", f, "level-error")));
    const list = $("run-progress");
    list.replaceChildren(...(view.events || []).map((e) => {
      const li = siteplan.el("li", null, "event-" + e.kind);
      li.append(siteplan.el("span", e.elapsed, "at muted"), " ", siteplan.el("span", e.text, "text"));
      return li;
    }));
    list.scrollTop = list.scrollHeight;
    text("run-command", view.command);
    $("run-cancel-form").hidden = view.final;
    $("run-results-link").hidden = view.state !== "done";
    detail.dataset.final = view.final ? "true" : "false";
  }

  function showRow(view) {
    const state = $("run-state-" + view.id);
    if (state) { state.textContent = view.state_text; state.dataset.state = view.state; }
    const result = $("run-result-" + view.id);
    if (result) { result.textContent = view.status_text || ""; result.className = view.status_class || ""; }
  }

  async function poll() {
    try {
      const view = await siteplan.json("/api/runs/" + encodeURIComponent(id) + "?lang=" + lang);
      show(view);
      const all = await siteplan.json("/api/runs?lang=" + lang);
      all.runs.forEach(showRow);
      const busy = all.runs.some((r) => !r.final);
      if (view.final && !busy) { clearInterval(timer); timer = null; }
    } catch (err) {
      // the app may be restarting: keep asking
    }
  }

  timer = setInterval(poll, 1000);
  poll();
})();
