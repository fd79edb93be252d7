// siteplan app, Targets page: paste from Excel, yearly or cumulative entry, live totals against capacity.
// Values go into the page as text (input.value, textContent), never as HTML.
"use strict";
(function () {
  const form = document.getElementById("targets-form");
  if (!form) return;
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const capacity = JSON.parse(document.getElementById("capacity-data").textContent);
  const words = JSON.parse(document.getElementById("targets-words").textContent);
  const years = data.years;
  const modeSelect = document.getElementById("targets-mode");
  const typeTable = document.getElementById("targets-table");
  const message = document.getElementById("targets-message");
  let mode = modeSelect.value;

  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  const shown = (n) => Number(n).toLocaleString("en-US");
  const isWhole = (v) => v !== null && !Number.isNaN(v) && Number.isInteger(v) && v >= 0;
  const tables = () => [typeTable, document.getElementById("zones-table"), document.getElementById("districts-table")].filter(Boolean);
  // the inputs a paste fills, row by row: year cells of the type table; name, total and year cells of an area table
  const grid = (table) => Array.from(table.tBodies[0].rows).map((tr) => Array.from(tr.querySelectorAll("input.cell")));

  function whatOf(input) {
    if (input.dataset.what) return input.dataset.what;
    const table = input.closest("table");
    const name = input.closest("tr").querySelector("input.name");
    const title = table.previousElementSibling && table.previousElementSibling.tagName === "H2" ? table.previousElementSibling.textContent : "";
    return (title + " " + (name ? name.value : "")).trim();
  }

  // A cell's problem (marked red), or null.
  function cellProblem(input) {
    if (!input.classList.contains("num")) return null;
    const v = siteplan.number(input.value);
    const inArea = input.closest("table") !== typeTable;
    let bad = null;
    if (v === null) {
      if (!inArea) bad = fmt(words.empty_cell, { what: whatOf(input), year: input.dataset.year });
    } else if (!isWhole(v)) {
      bad = fmt(words.bad_cell, { what: whatOf(input), year: input.dataset.year || "", value: input.value });
    }
    input.classList.toggle("bad", !!bad);
    return bad;
  }

  // Running totals that fall: each such cell is a problem in cumulative mode.
  function decreaseProblems(row) {
    const out = [];
    if (mode !== "cumulative") return out;
    let before = 0;
    row.querySelectorAll("input.year").forEach((input) => {
      const v = siteplan.number(input.value);
      if (!isWhole(v)) return;
      if (v < before) {
        input.classList.add("bad");
        out.push(fmt(words.bad_decrease, { what: whatOf(input), year: input.dataset.year, value: v, before: before }));
      }
      before = v;
    });
    return out;
  }

  function problems() {
    const out = [];
    tables().forEach((table) => {
      Array.from(table.tBodies[0].rows).forEach((tr) => {
        tr.querySelectorAll("input.cell").forEach((input) => { const p = cellProblem(input); if (p) out.push(p); });
        out.push(...decreaseProblems(tr));
      });
    });
    return out;
  }

  // Each year's value of a row of year inputs, as yearly units (null where a cell is not a whole number).
  function yearlyOf(inputs) {
    const values = inputs.map((i) => siteplan.number(i.value));
    if (mode !== "cumulative") return values.map((v) => (isWhole(v) ? v : null));
    let before = 0;
    return values.map((v) => { if (!isWhole(v)) return null; const d = v - before; before = v; return d; });
  }

  function update() {
    problems();
    const totals = years.map(() => 0);
    Array.from(typeTable.tBodies[0].rows).forEach((tr) => {
      yearlyOf(Array.from(tr.querySelectorAll("input.year"))).forEach((v, j) => { if (v !== null) totals[j] += v; });
    });
    let running = 0;
    years.forEach((year, j) => {
      running += totals[j];
      const total = document.getElementById("total-" + year);
      const cum = document.getElementById("cumtotal-" + year);
      // the totals row shows what the table shows: yearly units, or running totals in cumulative mode
      if (total) total.textContent = shown(mode === "cumulative" ? running : totals[j]);
      if (cum) cum.textContent = shown(running);
      const cap = document.getElementById("capacity-" + year);
      const over = !!(capacity && cap && cap.dataset.value !== "" && running > Number(cap.dataset.value));
      if (cum) cum.classList.toggle("over", over);
      if (cap) cap.classList.toggle("over", over);
    });
    updateDistricts();
  }

  // The district targets beside each district's capacity (whole plan).
  function updateDistricts() {
    const capTable = document.getElementById("capacity-districts");
    const table = document.getElementById("districts-table");
    if (!capTable || !table) return;
    const targets = {};
    Array.from(table.tBodies[0].rows).forEach((tr) => {
      const name = tr.querySelector("input.name").value.trim();
      if (!name) return;
      const total = siteplan.number(tr.querySelector("input.total").value);
      const yearly = yearlyOf(Array.from(tr.querySelectorAll("input.year")));
      const sum = yearly.reduce((a, v) => a + (v || 0), 0);
      targets[name] = isWhole(total) ? total : sum;
    });
    Array.from(capTable.tBodies[0].rows).forEach((tr) => {
      const cell = tr.querySelector("td.target");
      const target = targets[tr.dataset.district];
      cell.textContent = target === undefined ? "" : shown(target);
      cell.classList.toggle("over", target !== undefined && target > Number(tr.dataset.capacity));
    });
  }

  // One cell from pasted text: numbers as plain digits, anything else as it was (and marked).
  function fill(input, text) {
    if (input.classList.contains("num")) {
      const v = siteplan.number(text);
      input.value = v !== null && !Number.isNaN(v) ? String(v) : text;
    } else {
      input.value = text;
    }
  }

  // ---------------------------------------------------------------- area tables: rows added and removed
  function addRow(table) {
    const prefix = table.dataset.kind;
    const kind = table.id.replace("-table", "");
    let next = 0;
    table.querySelectorAll("input.name").forEach((i) => { next = Math.max(next, Number(i.name.split(".")[2]) + 1); });
    const tr = document.createElement("tr");
    const cell = (cls, name, extra) => {
      const td = document.createElement("td");
      const input = document.createElement("input");
      input.type = "text"; input.className = cls; input.name = name;
      Object.assign(input, extra || {});
      td.appendChild(input); tr.appendChild(td);
      return input;
    };
    cell("cell name", `${prefix}.name.${next}`, { size: 10 }).setAttribute("list", kind + "-names");
    cell("cell num total", `${prefix}.total.${next}`, { size: 7, inputMode: "numeric" });
    years.forEach((y) => { cell("cell num year", `${prefix}.${next}.${y}`, { size: 6, inputMode: "numeric" }).dataset.year = y; });
    const td = document.createElement("td");
    const remove = siteplan.el("button", words.remove_row, "secondary row-remove");
    remove.type = "button";
    td.appendChild(remove); tr.appendChild(td);
    table.tBodies[0].appendChild(tr);
    return tr;
  }
  ["zones", "districts"].forEach((kind) => {
    const button = document.getElementById(kind + "-add");
    const table = document.getElementById(kind + "-table");
    if (button && table) button.addEventListener("click", () => { addRow(table).querySelector("input").focus(); });
  });
  form.addEventListener("click", (e) => {
    const button = e.target.closest(".row-remove");
    if (!button) return;
    button.closest("tr").remove();
    update();
  });

  // ---------------------------------------------------------------- paste into a cell: fill rightwards and downwards
  form.addEventListener("paste", (e) => {
    const input = e.target;
    if (!(input instanceof HTMLInputElement) || !input.classList.contains("cell")) return;
    const text = (e.clipboardData || window.clipboardData).getData("text");
    if (!/[\t\n]/.test(text.replace(/\s+$/, ""))) {
      if (input.classList.contains("num")) { e.preventDefault(); fill(input, text.trim()); update(); }
      return; // one value: as typed
    }
    e.preventDefault();
    const table = input.closest("table");
    // a block copied with its header row of years or its column of type names goes where its labels say
    if (table === typeTable && applyTable(text, true)) return;
    const rows = siteplan.rows(text);
    let cells = grid(table);
    const r0 = cells.findIndex((row) => row.includes(input));
    const c0 = cells[r0].indexOf(input);
    rows.forEach((values, i) => {
      if (r0 + i >= cells.length) {
        if (table === typeTable) return; // the type rows are the scenario's types
        addRow(table);
        cells = grid(table);
      }
      values.forEach((value, j) => { const target = cells[r0 + i][c0 + j]; if (target) fill(target, value); });
    });
    update();
  });

  // ---------------------------------------------------------------- the paste box: a whole type x year table
  const yearOf = (text) => { const m = /^(\d{4})\s*(年度?)?$/.exec(String(text).normalize("NFKC").trim()); return m ? Number(m[1]) : null; };
  const plain = (text) => String(text).normalize("NFKC").replace(/[\s（）()套间]/g, "").toLowerCase();
  function typeOf(label) {
    const want = plain(label);
    let best = null, bestLength = 0;
    data.types.forEach((t) => t.names.forEach((n) => {
      const name = plain(n);
      if (!name) return;
      if (want === name) { best = t.code; bestLength = Infinity; }
      else if (want.includes(name) && name.length > bestLength) { best = t.code; bestLength = name.length; }
    }));
    return best;
  }
  const pasteMessage = document.getElementById("paste-message");
  // Fill the type x year table from a pasted block, matching a header row of years and a first column of type
  // names when the block has them (else rows in the table's order from the first year). With onlyLabelled,
  // a block without such labels is left alone (false), for a paste into one cell to fill from that cell.
  function applyTable(text, onlyLabelled) {
    let rows = siteplan.rows(text).filter((r) => r.some((c) => c !== ""));
    pasteMessage.hidden = true;
    if (!rows.length) return false;
    // a first row of years: every cell after the first is a year (or empty)
    let columns = null;
    const head = rows[0];
    const headYears = head.map(yearOf);
    if (headYears.slice(1).some((y) => y !== null) && head.slice(1).every((c, k) => c === "" || headYears[k + 1] !== null)) {
      columns = headYears;
      rows = rows.slice(1);
    }
    const labelled = (columns && columns[0] === null && head[0] !== "") ||
      rows.some((r) => r[0] !== "" && Number.isNaN(siteplan.number(r[0])));
    if (onlyLabelled && !columns && !labelled) return false;
    const start = labelled ? 1 : 0;
    if (!columns) columns = rows[0].map((_, k) => (k >= start ? years[k - start] : null));
    const unknown = [];
    let order = 0;
    rows.forEach((r) => {
      let code;
      if (labelled) {
        if (/合计|小计|总计|total/i.test(r[0])) return;
        code = typeOf(r[0]);
        if (!code) { unknown.push(r[0]); return; }
      } else {
        code = data.types[order] && data.types[order].code;
        order += 1;
        if (!code) return;
      }
      r.forEach((value, k) => {
        const year = columns[k];
        if (k < start || year === null || year === undefined) return;
        const input = document.getElementById(`t-${code}-${year}`);
        if (input) fill(input, value);
      });
    });
    if (unknown.length) {
      pasteMessage.textContent = words.paste_unknown + " " + unknown.join("、");
      pasteMessage.hidden = false;
    }
    update();
    return true;
  }
  document.getElementById("paste-apply").addEventListener("click", () => {
    applyTable(document.getElementById("paste-block").value, false);
  });

  // ---------------------------------------------------------------- yearly <-> cumulative
  modeSelect.addEventListener("change", () => {
    const to = modeSelect.value;
    tables().forEach((table) => Array.from(table.tBodies[0].rows).forEach((tr) => {
      const inputs = Array.from(tr.querySelectorAll("input.year"));
      const values = inputs.map((i) => siteplan.number(i.value));
      if (!values.every(isWhole)) return; // a row with empty or wrong cells stays as typed
      if (to === "yearly" && values.some((v, j) => j && v < values[j - 1])) return; // a falling total: left to be corrected
      let running = 0;
      inputs.forEach((input, j) => {
        if (to === "cumulative") { running += values[j]; input.value = String(running); }
        else { input.value = String(values[j] - (j ? values[j - 1] : 0)); }
      });
    }));
    mode = to;
    update();
  });

  form.addEventListener("input", update);
  form.addEventListener("submit", (e) => {
    const found = problems();
    if (!found.length) { message.hidden = true; return; }
    e.preventDefault();
    message.textContent = words.js_bad + " " + found.slice(0, 8).join("；") + (found.length > 8 ? " …" : "");
    message.hidden = false;
  });
  update();
})();
